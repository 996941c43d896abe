"""`python -m eval.selector_trial QUESTIONS.jsonl --out DIR`: the generator as a selector, measured (issue 27).

For each question the reader's best units (at most four) are numbered in one prompt and the generator's next-token
probabilities of "0".."k" are read after one prefill (``service.pipeline.selector``). Reported: unit top-1 of the
selector's choice against the reader's, and how well P("0" = none answers) separates unanswerable questions
(ROC AUC), with the prefill time. No generation."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from eval.questions import load_questions
from eval.unit_examples import examples
from service.backends.components import build_answerer
from service.backends.settings import Settings
from service.pipeline.selector import select

UNITS = 4


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.selector_trial")
    parser.add_argument("questions", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    from sklearn.metrics import roc_auc_score

    answerer = build_answerer(Settings())
    answerer.warm_up()
    questions, _ = load_questions(args.questions)
    found = examples(answerer, [q for q in questions], answerer.top_k, answerable_only=False)
    rows = []
    for e in found:
        order = np.argsort(-answerer.reader.scores(e.x), kind="stable")[:UNITS]
        units = [e.found.units[i] for i in order]
        started = time.perf_counter()
        choice = select(answerer.generator, e.question.question, units)
        if choice is None:
            print("error: this generator backend exposes no logits (use the onnx backend)", file=sys.stderr)
            return 2
        rows.append({"answerable": e.question.answerable, "none": choice.none, "ms": (time.perf_counter() - started) * 1000,
                     "reader": bool(e.y[order[0]]) if len(e.y) else None,
                     "selector": bool(e.y[order[choice.best]]) if len(e.y) else None})  # fmt: skip
    scored = [r for r in rows if r["answerable"] and r["reader"] is not None]
    unanswerable = [not r["answerable"] for r in rows]
    data = {
        "questions": args.questions.name,
        "answerable_scored": len(scored),
        "reader_unit_top1": round(float(np.mean([r["reader"] for r in scored])), 4),
        "selector_unit_top1": round(float(np.mean([r["selector"] for r in scored])), 4),
        "none_auc_unanswerable": round(float(roc_auc_score(unanswerable, [r["none"] for r in rows])), 4),
        "prefill_ms_p50": round(float(np.median([r["ms"] for r in rows])), 1),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "metrics.json").write_text(json.dumps(data, indent=1) + "\n")
    print(json.dumps(data))
    return 0


if __name__ == "__main__":
    sys.exit(main())
