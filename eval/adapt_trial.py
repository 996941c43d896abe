"""`python -m eval.adapt_trial QUESTIONS.jsonl --work DIR --out DIR`: per-vault adaptation, tried (issue 27, part 3).

The InPars/Promptagator recipe on the served vault (``NOTES_QA_INDEX_PATH``), with no label of QUESTIONS used:

1. **questions** — `service.backends.adapt_pairs`: sampled answer units (one per passage), the question the
   generator writes for each, kept when retrieval finds its unit's passage in the top 5. Resumable
   (``DIR/pairs.jsonl``); ``--budget-minutes`` bounds this stage.
2. **train** — `service.backends.adapt_training`: MultipleNegativesRankingLoss from the packaged weights, one
   epoch, learning rate 2e-5, batch 16: fixed before any run.
3. **index** — re-embed the vault with the adapted model into ``DIR/index`` (a new vector space: its own index).
4. **measure** — on QUESTIONS, packaged vs adapted embedder: retrieval hit@1/5 and unit top-1/top-3 of plain cosine
   and of the shipped reader (no generation). Seconds per stage and the pair counts go to ``OUT/metrics.json``.

The trial that decided `notes-qa adapt` (which ships the same pair builder and training, plus traps, a budget and a
check before serving); this script also measures against labelled questions, which the command never sees."""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from eval.questions import load_questions
from eval.reader_cv import top
from eval.unit_examples import examples
from service.backends.adapt_pairs import PairBuilder, PairLog, sample_units, unit_key
from service.backends.adapt_training import BATCH, fine_tune
from service.backends.adapt_training import RECIPE as TRAINING_RECIPE
from service.backends.components import build_answerer
from service.backends.ingesting import ingest_and_report
from service.backends.settings import Settings

FOUND_IN = 5
RECIPE = {**TRAINING_RECIPE, "filter": f"the unit's passage in retrieval's top {FOUND_IN}"}


def make_pairs(settings: Settings, work: Path, n: int, budget_s: float) -> dict[str, int]:
    """Questions for ``n`` sampled units (no traps), with `notes-qa adapt`'s own pair builder; resumable."""
    answerer = build_answerer(settings)
    answerer.retriever.warm_up()
    answerer.generator.warm_up()
    snapshot = answerer.retriever.snapshot()
    log = PairLog(work / "pairs.jsonl")
    done = log.records()
    builder = PairBuilder(answerer.generator, answerer.retriever, snapshot)
    started = time.perf_counter()
    for row, index in itertools.islice(sample_units(snapshot), n):
        if unit_key(snapshot.chunks[row], snapshot.units_of(row)[0][index]) in done:
            continue
        if time.perf_counter() - started > budget_s:
            print(f"budget spent after {len(done)} units", file=sys.stderr)
            break
        record = builder.build(row, index, with_trap=False)
        log.append(record)
        done[record.key] = record
        print(f"{len(done)}/{n} {'kept' if record.kept else 'dropped'}: {record.question}", file=sys.stderr)
    records = list(log.records().values())
    return {"units": len(records), "questions": sum(bool(r.question) for r in records),
            "kept": sum(r.kept for r in records)}  # fmt: skip


def measure(settings: Settings, questions: list[Any]) -> dict[str, float]:
    answerer = build_answerer(settings)
    answerer.retriever.warm_up()
    ranks = [q.evidence_rank([h.chunk.passage() for h in answerer.search(q.question, 10)])
             for q in questions if q.answerable and q.evidences]  # fmt: skip
    found = examples(answerer, questions, settings.top_k)
    cosine = top(found, lambda e: e.found.cosine)
    reader = top(found, lambda e: answerer.reader.scores(e.x))
    return {
        "hit@1": round(float(np.mean([r is not None and r <= 1 for r in ranks])), 4),
        "hit@5": round(float(np.mean([r is not None and r <= 5 for r in ranks])), 4),
        "cosine_unit_top1": round(cosine[0], 4),
        "cosine_unit_top3": round(cosine[1], 4),
        "reader_unit_top1": round(reader[0], 4),
        "reader_unit_top3": round(reader[1], 4),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.adapt_trial")
    parser.add_argument("questions", type=Path, help="labelled questions to measure on (never used to adapt)")
    parser.add_argument("--work", type=Path, required=True, help="pairs, adapted model and index (resumable)")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--units", type=int, default=400, help="units to write questions for")
    parser.add_argument("--budget-minutes", type=float, default=40.0, help="bound on question writing")
    args = parser.parse_args(argv)
    settings = Settings()
    args.work.mkdir(parents=True, exist_ok=True)
    seconds: dict[str, float] = {}

    started = time.perf_counter()
    counts = make_pairs(settings, args.work, args.units, args.budget_minutes * 60)
    seconds["questions"] = time.perf_counter() - started
    kept = [p for p in PairLog(args.work / "pairs.jsonl").records().values() if p.kept]
    if len(kept) < BATCH:
        print(f"error: only {len(kept)} questions kept; nothing to train on", file=sys.stderr)
        return 1

    started = time.perf_counter()
    model_dir = args.work / "model"
    if not (model_dir / "modules.json").exists():
        fine_tune(settings.embedder_path, kept, model_dir)
    seconds["train"] = time.perf_counter() - started

    adapted = settings.model_copy(update={"embedder_path": model_dir, "embedder_backend": "torch",
                                          "embedder_name": f"adapted:{args.work.name}",
                                          "index_path": args.work / "index"})  # fmt: skip
    served = build_answerer(settings).retriever
    served.warm_up()
    notes_root = Path(served.manifest.notes_root or settings.notes_dir)
    started = time.perf_counter()
    ingest_and_report(adapted, notes_root, quiet=True)
    seconds["index"] = time.perf_counter() - started

    questions, _ = load_questions(args.questions)
    started = time.perf_counter()
    data = {
        "questions": args.questions.name,
        "vault": notes_root.name,
        "pairs": counts,
        "recipe": RECIPE,
        "packaged": measure(settings, questions),
        "adapted": measure(adapted, questions),
    }
    seconds["measure"] = time.perf_counter() - started
    data["seconds"] = {k: round(v, 1) for k, v in seconds.items()}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "metrics.json").write_text(json.dumps(data, indent=1) + "\n")
    print(json.dumps(data, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
