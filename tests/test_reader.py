"""The unit reader: its features on hand-made units and questions, and a model that trains, saves, loads and ranks
identically."""

from __future__ import annotations

import json

import numpy as np
import pytest

from index.bm25 import Bm25Index
from index.search import Hit
from ingest.types import Chunk, UnitKind
from service.pipeline.evidence import Candidates, Unit
from service.pipeline.reader import FEATURES, ReaderModel, asks, features, train

LEXICON = Bm25Index.build(["npm ci installs from the lockfile", "recall precision metrics", "links and references"])


def found(*units: tuple[str, UnitKind, float]) -> Candidates:
    made = []
    for n, (text, kind, _) in enumerate(units):
        hit = Hit(Chunk("n.md", "Install", 1, 9, text), 0.5, 1)
        made.append(Unit(text, "Install", "n.md", "Install", n + 1, n + 1, hit, n, kind=kind))
    cosine = np.array([c for _, _, c in units])
    return Candidates(made, cosine, np.full(len(made), 0.5))


def column(x: np.ndarray, name: str) -> list[float]:
    return [round(float(v), 3) for v in x[:, FEATURES.index(name)]]


def test_what_a_question_asks_for() -> None:
    assert asks("How do I install exactly what the lockfile says?")["howto"]
    assert asks("What are the benefits of batch normalization?")["list"]
    assert asks("How is recall computed?")["formula"]
    assert asks("What does LASSO stand for?")["definition"]
    assert asks("How many layers does ResNet-50 have?")["number"]
    assert not any(asks("Tell me about attention").values())


def test_features_of_hand_made_units() -> None:
    units = found(
        ("Run this on CI to install what the lockfile says:\n```\nnpm ci\n```", "code", 0.6),
        ("npm ci is meant for automated environments.", "prose", 0.7),
        ("See https://docs.npmjs.com/cli/ci and [the guide](https://example.com/guide).", "prose", 0.5),
    )
    x = features("How do I install exactly what the lockfile says?", units, LEXICON)
    assert x.shape == (3, len(FEATURES))
    assert column(x, "suits") == [1.0, 0.0, 0.0]  # a command question, a code unit
    assert column(x, "cosine_gap") == [-0.1, 0.0, -0.2]  # against the best candidate
    assert column(x, "kind_code") == [1.0, 0.0, 0.0]
    assert column(x, "link_share")[2] > 0.5 and column(x, "link_share")[:2] == [0.0, 0.0]
    assert column(x, "opens_with_subject")[0] > column(x, "opens_with_subject")[2]


def synthetic(seed: int, n: int = 60) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Questions of 5 units; the answering unit has a higher first feature (cosine) and suits the question."""
    rng = np.random.default_rng(seed)
    groups, labels = [], []
    for _ in range(n):
        x = rng.normal(0, 1, (5, len(FEATURES)))
        y = np.zeros(5, dtype=int)
        y[rng.integers(5)] = 1
        x[y == 1, FEATURES.index("cosine")] += 1.5
        x[:, FEATURES.index("suits")] = y
        groups.append(x)
        labels.append(y)
    return groups, labels


def test_the_reader_trains_saves_loads_and_ranks_identically() -> None:
    groups, labels = synthetic(1)
    model = train(groups, labels, trained_on="synthetic")
    assert model.n_questions == 60 and model.coef[FEATURES.index("cosine")] > 0
    loaded = ReaderModel.from_dict(json.loads(json.dumps(model.to_dict())))
    assert loaded == model
    held, held_labels = synthetic(2)
    top1 = np.mean([y[int(np.argmax(model.scores(x)))] for x, y in zip(held, held_labels, strict=True)])
    assert top1 > 0.9
    for x in held:
        np.testing.assert_array_equal(loaded.scores(x), model.scores(x))


def test_a_reader_file_with_unknown_features_is_refused() -> None:
    data = train(*synthetic(3)).to_dict() | {"features": ["cosine", "shoe_size"], "mean": [0, 0], "scale": [1, 1],
                                              "coef": [1, 1]}  # fmt: skip
    with pytest.raises(ValueError, match="unknown features"):
        ReaderModel.from_dict(data)
