"""`notes-qa eval` and `notes-qa calibrate`: offline runs of question sets through the answering pipeline."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from eval.compare import compare_runs
from eval.evidence_spans import EvidenceLocator
from eval.questions import Question, load_questions
from eval.report import write_report
from eval.runner import Result, grade, read_results, run_questions, write_results
from ingest.types import UsageError
from service.backends.settings import Settings

Register = Callable[[str, Callable[[Any, argparse.Namespace], int], str], argparse.ArgumentParser]
DEFAULT_QUESTIONS = Path("eval/questions/dev.jsonl")


class EvalUsageError(UsageError):
    """Bad arguments or files for an eval command."""


def add_commands(command: Register) -> None:
    p = command("eval", cmd_eval, "Run a question set offline and write results, metrics and a report.")
    p.add_argument("questions", nargs="?", type=Path, help="JSON-lines question file (default: the dev set)")
    p.add_argument("--out", type=Path, help="output folder (default: eval-runs/LABEL)")
    p.add_argument("--top-k", type=int, default=None)
    p.add_argument("--label", default=None, help="name of this run in reports (default: the out folder name)")
    p.add_argument("--compare", nargs=2, type=Path, metavar=("DIR_A", "DIR_B"), help="diff two finished runs")
    p.add_argument(
        "--rescore",
        type=Path,
        metavar="RUN_DIR",
        help="score a finished run again against QUESTIONS (relabelled) without running anything; writes --out",
    )

    p = command(
        "calibrate",
        cmd_calibrate,
        "Train the unit reader and the answerability model on a labelled question set; store them with the index.",
    )
    p.add_argument("questions", type=Path, help="JSON-lines question file with answerable and unanswerable questions")
    p.add_argument("--top-k", type=int, default=None)
    p.add_argument("--save", type=Path, help="also write the answerability model to this JSON file")
    p.add_argument("--save-reader", type=Path, help="also write the unit reader to this JSON file")
    p.add_argument(
        "--keep-reader", action="store_true", help="keep the reader in use (train only the answerability model)"
    )
    p.add_argument("--no-store", action="store_true", help="do not store it with the index (use with --save)")
    p.add_argument("--features", type=Path, help="also write each question's features and label (JSON lines)")
    p.add_argument("--from-features", type=Path, help="train on a --features file instead of running the questions")
    p.add_argument("--out", type=Path, help="also write the cross-validation figures to OUT/metrics.json")

    p = command(
        "tune-evidence", cmd_tune_evidence, "Compare evidence-scoring weights on a question file (no generation)."
    )
    p.add_argument("questions", type=Path, help="JSON-lines question file with evidence strings")
    p.add_argument("--top-k", type=int, default=None)

    p = command(
        "reader-cv", cmd_reader_cv, "Compare unit pickers (cosine, hand-set, learned readers) on a question file."
    )
    p.add_argument("questions", type=Path, help="JSON-lines question file with accepted phrases")
    p.add_argument("--top-k", type=int, default=None)
    p.add_argument("--cross-validate", action="store_true", help="a training file: cross-validate the learned readers")
    p.add_argument("--out", type=Path, help="also write the figures to OUT/metrics.json")


def _load(path: Path | None) -> list[Question]:
    path = path or DEFAULT_QUESTIONS
    if not path.is_file():
        raise EvalUsageError(f"question file not found: {path}")
    questions, errors = load_questions(path)
    for err in errors:
        print(f"warning: {path}:{err.line}: skipped: {err.message}", file=sys.stderr)
    if not questions:
        raise EvalUsageError(f"no valid questions in {path}")
    return questions


def cmd_eval(settings: Settings, args: argparse.Namespace) -> int:
    if args.compare:
        for d in args.compare:
            if not (d / "metrics.json").exists() or not (d / "results.jsonl").exists():
                raise EvalUsageError(f"{d} is not a finished eval run (no metrics.json/results.jsonl)")
        print(compare_runs(*args.compare))
        return 0
    if args.rescore:
        return _rescore(args)
    from service.backends.components import build_answerer

    questions = _load(args.questions)
    label = args.label or (args.out.name if args.out else "run")
    out = args.out or Path("eval-runs") / label
    out.mkdir(parents=True, exist_ok=True)
    answerer = build_answerer(settings)
    answerer.warm_up()
    results = run_questions(answerer, questions, args.top_k, progress=True)
    write_results(results, out / "results.jsonl")
    config = {"top_k": args.top_k or settings.top_k, "answerability": answerer.answerability_source,
              "retrieval": settings.retrieval_mode, "generator": f"{settings.generator_backend}:{settings.generator_model}",
              "index": answerer.retriever.manifest.version,
              "notes_root": answerer.retriever.manifest.notes_root}  # fmt: skip
    _report(results, out, label, config)
    return 0


def _report(results: list[Result], out: Path, label: str, config: dict[str, object]) -> None:
    data = write_report(results, out, label, config)
    m: dict[str, object] = data["metrics"]  # type: ignore[assignment]
    print(" ".join(f"{k}={m[k]}" for k in ("hit@5", "unit_top1", "unit_top3", "answer_correct", "false_abstain",
                                            "noans_accuracy", "citation_validity", "latency_p50_ms", "latency_p95_ms",
                                            "evidence_p50_ms")))  # fmt: skip
    print(f"wrote {out}/results.jsonl, metrics.json, report.md, report.html")


def _rescore(args: argparse.Namespace) -> int:
    """Grade a finished run again against (relabelled) questions: the answers are the run's, the scores new."""
    import json

    run = args.rescore
    if not (run / "metrics.json").exists() or not (run / "results.jsonl").exists():
        raise EvalUsageError(f"{run} is not a finished eval run (no metrics.json/results.jsonl)")
    if not args.out:
        raise EvalUsageError("--rescore needs --out (the run's own files are left as they are)")
    old = json.loads((run / "metrics.json").read_text())
    config: dict[str, object] = {**old.get("config", {}), "rescored_from": str(run)}
    questions = {q.id: q for q in _load(args.questions)}
    locator = EvidenceLocator(str(config.get("notes_root") or "") or None)
    results = [grade(r, questions[r.id], locator) for r in read_results(run / "results.jsonl") if r.id in questions]
    missing = len(questions) - len(results)
    if missing:
        print(f"warning: {missing} question(s) of {args.questions} are not in {run}", file=sys.stderr)
    args.out.mkdir(parents=True, exist_ok=True)
    write_results(results, args.out / "results.jsonl")
    _report(results, args.out, args.label or args.out.name, config)
    return 0


def cmd_tune_evidence(settings: Settings, args: argparse.Namespace) -> int:
    from eval.evidence_sweep import cmd_tune_evidence as run

    return run(settings, args, _load(args.questions))


def cmd_reader_cv(settings: Settings, args: argparse.Namespace) -> int:
    from eval.reader_cv import cmd_reader_cv as run

    return run(settings, args, _load(args.questions))


def cmd_calibrate(settings: Settings, args: argparse.Namespace) -> int:
    from eval.calibration import cmd_calibrate as run

    try:
        return run(settings, args, [] if args.from_features else _load(args.questions))
    except (ValueError, KeyError) as exc:
        raise EvalUsageError(f"{args.questions}: {exc}") from exc
