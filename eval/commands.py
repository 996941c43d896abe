"""`notes-qa eval` and `notes-qa calibrate`: offline runs of question sets through the answering pipeline."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from eval import metrics
from eval.compare import compare_runs
from eval.questions import Question, load_questions
from eval.report import sweep_rows, write_report
from eval.runner import run_questions, write_results

Register = Callable[[str, Callable[[Any, argparse.Namespace], int], str], argparse.ArgumentParser]
DEFAULT_QUESTIONS = Path("eval/questions/dev.jsonl")


class EvalUsageError(Exception):
    """Bad arguments or files for an eval command."""


def add_commands(command: Register) -> None:
    p = command("eval", cmd_eval, "Run a question set offline and write results, metrics and a report.")
    p.add_argument("questions", nargs="?", type=Path, help="JSON-lines question file (default: the dev set)")
    p.add_argument("--out", type=Path, help="output folder (default: eval-runs/LABEL)")
    p.add_argument("--top-k", type=int, default=None)
    p.add_argument("--label", default=None, help="name of this run in reports (default: the out folder name)")
    p.add_argument("--compare", nargs=2, type=Path, metavar=("DIR_A", "DIR_B"), help="diff two finished runs")

    p = command("calibrate", cmd_calibrate, "Choose the abstention threshold from a question set; store it.")
    p.add_argument("questions", nargs="?", type=Path, help="JSON-lines question file (default: the dev set)")
    p.add_argument("--top-k", type=int, default=None)


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


def cmd_eval(settings: Any, args: argparse.Namespace) -> int:
    if args.compare:
        for d in args.compare:
            if not (d / "metrics.json").exists() or not (d / "results.jsonl").exists():
                raise EvalUsageError(f"{d} is not a finished eval run (no metrics.json/results.jsonl)")
        print(compare_runs(*args.compare))
        return 0
    from service.components import build_answerer

    questions = _load(args.questions)
    label = args.label or (args.out.name if args.out else "run")
    out = args.out or Path("eval-runs") / label
    out.mkdir(parents=True, exist_ok=True)
    answerer = build_answerer(settings)
    answerer.warm_up()
    results = run_questions(answerer, questions, args.top_k, progress=True)
    write_results(results, out / "results.jsonl")
    config = {"top_k": args.top_k or settings.top_k, "threshold": answerer.threshold,
              "retrieval": settings.retrieval_mode, "generator": settings.generator_model,
              "index": answerer.retriever.manifest.version}  # fmt: skip
    data = write_report(results, out, label, config)
    m: dict[str, object] = data["metrics"]  # type: ignore[assignment]
    print(" ".join(f"{k}={m[k]}" for k in ("hit@5", "answer_correct", "false_abstain", "noans_accuracy",
                                            "citation_validity", "latency_p50_ms")))  # fmt: skip
    print(f"wrote {out}/results.jsonl, metrics.json, report.md, report.html")
    return 0


def cmd_calibrate(settings: Any, args: argparse.Namespace) -> int:
    from service.components import build_answerer, build_store

    questions = _load(args.questions)
    # Threshold 0: every question reaches the generator, so each candidate threshold can be scored.
    answerer = build_answerer(settings.model_copy(update={"threshold": 0.0}))
    answerer.warm_up()
    results = run_questions(answerer, questions, args.top_k, progress=True)
    rows = sweep_rows(results)
    best = metrics.best_threshold(rows)
    chosen = next(r for r in rows if r[0] == best)
    version = build_store(settings).set_threshold(best)
    print(f"threshold {best:.3f}: overall {chosen[1]:.3f}, answer accuracy {chosen[2]:.3f}, NoAns {chosen[3]:.3f}")
    print(f"stored as index version {version}; running services pick it up with their next question")
    return 0
