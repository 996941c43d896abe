"""`notes-qa calibrate`: train the unit reader, then the answerability model over the reader's signals, on a
labelled question file; store both with the index version (and/or write them as the shipped defaults).

Nothing is generated: both decisions come before generation, so calibrating a few hundred questions takes
seconds. The answerability inputs are reported with their 5-fold cross-validated decision accuracy."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from typing import Any

import numpy as np
from tqdm import tqdm

from eval.questions import Question
from eval.unit_examples import examples
from service.backends.settings import Settings
from service.pipeline import reader
from service.pipeline.answerability import FEATURES, train

BASE_INPUTS = ("dense_top", "unit_top", "coverage", "unknown_terms")  # the inputs before the reader


def calibration_rows(answerer: Any, questions: Sequence[Question], top_k: int | None) -> list[dict[str, Any]]:
    """Each question's answerability inputs and label (retrieval, evidence and the reader only)."""
    records = []
    for q in tqdm(questions, unit="q"):
        gathered = answerer.gather(q.question, top_k)
        if gathered.evidence:  # no evidence at all: nothing to learn from (always "no answer found")
            records.append({"id": q.id, "answerable": q.answerable, "signals": answerer.signals(q.question, gathered)})
    return records


def cross_validated(records: Sequence[dict[str, Any]], inputs: Sequence[str], seeds: int = 10) -> dict[str, float]:
    """Stratified 5-fold CV × ``seeds``: decision accuracy, false abstentions, NoAns accuracy."""
    from sklearn.model_selection import StratifiedKFold

    rows = [r["signals"] for r in records]
    y = np.array([bool(r["answerable"]) for r in records])
    acc, fa, na = [], [], []
    for seed in range(seeds):
        decided = np.zeros(len(y), dtype=bool)
        for fit_rows, held in StratifiedKFold(5, shuffle=True, random_state=seed).split(np.zeros(len(y)), y):
            model = train([rows[i] for i in fit_rows], y[fit_rows].tolist(), inputs=inputs)
            decided[held] = [model.answers(rows[i]) for i in held]
        acc.append(float(np.mean(decided == y)))
        fa.append(float(np.mean(~decided[y])))
        na.append(float(np.mean(~decided[~y])))
    return {"accuracy": float(np.mean(acc)), "false_abstain": float(np.mean(fa)), "noans": float(np.mean(na))}


def cmd_calibrate(settings: Settings, args: argparse.Namespace, questions: list[Question]) -> int:
    from service.backends.components import build_answerer, build_store

    name = args.questions.name
    fitted_reader: reader.ReaderModel | None = None
    if args.from_features:
        records = [json.loads(line) for line in args.from_features.read_text(encoding="utf-8").splitlines() if line]
    else:
        answerer = build_answerer(settings)
        answerer.retriever.warm_up()
        if not args.keep_reader:
            found = [e for e in examples(answerer, questions, args.top_k or settings.top_k) if len(e.y)]
            fitted_reader = reader.train([e.x for e in found], [e.y for e in found], trained_on=name)
            answerer = build_answerer(settings, reader=fitted_reader)
            answerer.retriever.warm_up()
            print(f"unit reader trained on {len(found)} answerable questions")
        records = calibration_rows(answerer, questions, args.top_k)
    if args.features:
        args.features.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
        print(f"wrote the training rows to {args.features}")
    rows = [r["signals"] for r in records]
    labels = [bool(r["answerable"]) for r in records]
    options = [BASE_INPUTS] + ([FEATURES] if all(f in rows[0] for f in FEATURES) else [])
    scored = []
    report: dict[str, Any] = {"questions": name, "rows": len(records), "answerability_cv": []}
    for chosen in options:
        cv = cross_validated(records, chosen)
        scored.append((cv["accuracy"], -len(chosen), chosen))
        report["answerability_cv"].append({"inputs": list(chosen), **{k: round(v, 4) for k, v in cv.items()}})
        print(f"answerability over {', '.join(chosen)}: 5-fold CV x10 accuracy {cv['accuracy']:.3f}, false abstain "
              f"{cv['false_abstain']:.3f}, NoAns {cv['noans']:.3f}")  # fmt: skip
    inputs = max(scored)[2]  # the better cross-validated accuracy (a tie: the fewer inputs)
    model = train(rows, labels, trained_on=name, inputs=inputs, top_k=args.top_k or settings.top_k)
    right = sum(model.answers(r) == y for r, y in zip(rows, labels, strict=True))
    print(f"trained on {len(rows)} questions ({sum(labels)} answerable); agreement on them {right / len(rows):.3f}")
    for feature, coef in zip(model.features, model.coef, strict=True):
        print(f"  {feature:>14} {coef:+.3f}")
    report["chosen_inputs"] = list(inputs)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        _write(args.out / "metrics.json", report)
    _write(args.save, model.to_dict())
    if fitted_reader is not None:
        _write(args.save_reader, fitted_reader.to_dict())
    if not args.no_store:
        stored = fitted_reader.to_dict() if fitted_reader is not None else None
        version = build_store(settings).set_models(model.to_dict(), stored)
        print(f"stored as index version {version}; running services pick it up with their next question")
    return 0


def _write(path: Any, data: dict[str, Any]) -> None:
    if path:
        path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {path}")
