"""`notes-qa reader-cv`: which unit picker wins, measured before any generation.

For each answerable question, the retrieved passages' answer units are scored by: plain cosine, today's
hand-weighted selection score (``service.pipeline.evidence``), and learned readers (``service.pipeline.reader``: logistic regression;
gradient boosting as a challenger). On the training file the learned ones are cross-validated (grouped by
question, repeated); on other files a reader trained on the whole training file is applied as shipped. The figure is
unit top-1 / top-3: the share of answerable questions whose best (best three) unit holds an accepted phrase, and
"any": the share for which some candidate unit holds one (the ceiling of any picker)."""

from __future__ import annotations

import argparse
import itertools
import json
from collections.abc import Callable, Sequence

import numpy as np

from eval.questions import Question
from eval.unit_examples import Example, examples
from service.backends.settings import Settings
from service.pipeline import reader
from service.pipeline.policy import Weights


def top(examples_: Sequence[Example], scorer: Callable[[Example], np.ndarray]) -> tuple[float, float]:
    one = three = 0
    for e in examples_:
        if not len(e.y):
            continue
        order = np.argsort(-scorer(e), kind="stable")
        one += int(e.y[order[0]])
        three += int(e.y[order[:3]].any())
    n = max(len(examples_), 1)
    return one / n, three / n


def cross_validated(
    train: Sequence[Example], fit: Callable[[Sequence[Example]], Callable[[Example], np.ndarray]], seeds: int = 5
) -> tuple[float, float]:
    """Grouped 5-fold CV by question, averaged over ``seeds`` shuffles."""
    ones, threes = [], []
    for seed in range(seeds):
        order = np.random.default_rng(seed).permutation(len(train))
        folds = np.array_split(order, 5)
        scored: dict[int, tuple[float, float]] = {}
        for k, held in enumerate(folds):
            rest = [train[i] for j, f in enumerate(folds) if j != k for i in f]
            scorer = fit(rest)
            for i in held:
                scored[int(i)] = top([train[i]], scorer)
        ones.append(np.mean([v[0] for v in scored.values()]))
        threes.append(np.mean([v[1] for v in scored.values()]))
    return float(np.mean(ones)), float(np.mean(threes))


def fit_logistic(c: float) -> Callable[[Sequence[Example]], Callable[[Example], np.ndarray]]:
    def fit(train: Sequence[Example]) -> Callable[[Example], np.ndarray]:
        model = reader.train([e.x for e in train if len(e.y)], [e.y for e in train if len(e.y)], c=c)
        return lambda e: model.scores(e.x)

    return fit


def fit_boosting(train: Sequence[Example]) -> Callable[[Example], np.ndarray]:
    from sklearn.ensemble import HistGradientBoostingClassifier

    x = np.concatenate([e.x for e in train if len(e.y)])
    y = np.concatenate([e.y for e in train if len(e.y)])
    model = HistGradientBoostingClassifier(max_iter=150, learning_rate=0.05, max_leaf_nodes=15, random_state=0)
    model.fit(x, y)
    return lambda e: model.predict_proba(e.x)[:, 1]


def fit_weights(train: Sequence[Example]) -> Callable[[Example], np.ndarray]:
    """Today's selection with its three weights chosen on the training part (``tune-evidence``'s grid)."""
    from eval.evidence_sweep import LEAD, LEXICAL, RANK_PRIOR

    grid = [Weights(*w) for w in itertools.product(LEXICAL, RANK_PRIOR, LEAD)]
    best = max(grid, key=lambda w: top(train, lambda e: e.found.scores(w))[0])
    return lambda e: e.found.scores(best)


def cmd_reader_cv(settings: Settings, args: argparse.Namespace, questions: list[Question]) -> int:
    """With ``--cross-validate``: the pickers on a training file, learned ones cross-validated. Without: the
    pickers as shipped (``service/reader_default.json``, or the reader stored with the index) on any file."""
    from service.backends.components import build_answerer

    answerer = build_answerer(settings)
    answerer.retriever.warm_up()
    top_k = args.top_k or settings.top_k
    found = examples(answerer, questions, top_k)
    rows: list[tuple[str, tuple[float, float]]] = [
        ("plain cosine", top(found, lambda e: e.found.cosine)),
        ("hand-set score (weights chosen on tune)", top(found, lambda e: e.found.scores())),
    ]
    if args.cross_validate:
        for c in (0.001, 0.003, 0.01, 0.03, 0.1, 0.3):
            rows.append((f"reader, pairwise logistic C={c} (5-fold CV x5)", cross_validated(found, fit_logistic(c))))
        rows.append(("gradient boosting (5-fold CV x2)", cross_validated(found, fit_boosting, 2)))
        rows.append(("hand-set weights re-chosen per fold (5-fold CV x3)", cross_validated(found, fit_weights, 3)))
    else:
        model = answerer.reader
        rows.append((f"reader as shipped ({model.trained_on}, {model.n_questions} questions)",
                     top(found, lambda e: model.scores(e.x))))  # fmt: skip
    ceiling = sum(bool(e.y.any()) for e in found) / max(len(found), 1)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        data = {
            "questions": args.questions.name,
            "answerable": len(found),
            "top_k": top_k,
            "ceiling": round(ceiling, 4),
            "pickers": {
                name: {"unit_top1": round(one, 4), "unit_top3": round(three, 4)} for name, (one, three) in rows
            },
        }
        (args.out / "metrics.json").write_text(json.dumps(data, indent=1) + "\n")
    print(f"{len(found)} answerable questions, {top_k} passages each; some unit holds an accepted phrase for "
          f"{ceiling:.3f}")  # fmt: skip
    for name, (one, three) in rows:
        print(f"  {name:<56} unit top-1 {one:.3f}  top-3 {three:.3f}")
    return 0
