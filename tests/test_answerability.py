"""Grounding rules on hand-made drafts, and the answerability model on synthetic features."""

from __future__ import annotations

import json
import random

import pytest

from index.search import Hit
from ingest.types import Chunk
from service.pipeline.answerability import FEATURES, AnswerabilityModel, default_model, features, train
from service.pipeline.evidence import Evidence, Unit
from service.pipeline.grounding import MAX_ANSWER_WORDS, check_draft, quote_answer


def evidence_of(*texts: str) -> list[Evidence]:
    out = []
    for n, text in enumerate(texts, 1):
        hit = Hit(Chunk("notes.md", f"Topic {n}", 10 * n, 10 * n, text, lines=(10 * n,)), 0.5, n)
        unit = Unit(text, f"Topic {n}", "notes.md", f"Topic {n}", 10 * n, 10 * n, hit, 0)
        out.append(Evidence(n, unit, 1.0 - n / 10, 0.5))
    return out


EV = evidence_of(
    "Precision = TP/(TP+FP), the share of predicted positives that are right.",
    "Recall = TP/(TP+FN), the share of real positives that are found.",
)


def test_a_draft_in_the_evidence_words_is_kept() -> None:
    draft = check_draft("What is precision?", "Precision is TP/(TP+FP) [1].", EV)
    assert draft.kept and draft.cited == (1,) and draft.support > 0.5


def test_a_citation_by_habit_moves_to_the_unit_that_holds_the_words() -> None:
    draft = check_draft("What is recall?", "Recall = TP/(TP+FN), the share of real positives found [1].", EV)
    assert draft.kept and draft.cited == (2,) and draft.text.endswith("[2]")


def test_an_uncited_draft_is_attributed_and_a_leading_marker_moves_to_the_end() -> None:
    assert check_draft("What is recall?", "Recall = TP/(TP+FN)", EV).cited == (2,)
    moved = check_draft("What is recall?", "[2] Recall = TP/(TP+FN).", EV)
    assert moved.kept and moved.text == "Recall = TP/(TP+FN). [2]"


@pytest.mark.parametrize(
    ("reply", "problem"),
    [
        ("no answer found", "refused"),
        ("[1] [2]", "no content"),
        ("What is precision? [1]", "only restates the question"),
        ("The precision formula is [1]. It counts positives.", "points at a note"),
        ("Topic 1", "copied a heading"),
        ("[1] (Topic 1) Precision = TP/(TP+FP)", "echoed the numbered notes"),
        ("Precision is TP/(TP+FP) for 42 classes [1].", "states a number no evidence gives"),
        ("Precision measures calibration drift across adversarial benchmark suites [1].", "most of it"),
    ],
)
def test_drafts_that_are_not_kept(reply: str, problem: str) -> None:
    draft = check_draft("What is precision?", reply, EV)
    assert not draft.kept and draft.problem is not None and draft.problem.startswith(problem)


def test_a_long_draft_is_cut_to_whole_sentences_within_the_word_limit() -> None:
    words = "Precision is TP/(TP+FP) the share of predicted positives that are right."
    draft = check_draft("What is precision?", " ".join([words] * 8) + " [1]", EV)
    assert draft.kept and len(draft.text.split()) <= MAX_ANSWER_WORDS + 1 and draft.text.endswith("[1]")


def test_a_draft_cut_off_by_the_token_limit_keeps_its_finished_sentences() -> None:
    draft = check_draft("What is precision?", "Precision is TP/(TP+FP). It is the share of predicted posi", EV)
    assert draft.kept and draft.text == "Precision is TP/(TP+FP). [1]"


def test_the_quote_fallback_is_the_best_unit_verbatim() -> None:
    text, cited = quote_answer(EV)
    assert cited == (1,) and text == f"“{EV[0].unit.text}” [1]"


def test_features_are_the_models_inputs() -> None:
    values = features("What is precision?", 0.61, EV, unknown_share=0.25)
    assert tuple(values) == FEATURES
    assert values == {"dense_top": 0.61, "unit_top": 0.5, "coverage": 1.0, "unknown_terms": 0.25, "reader_top": 0.0,
                      "reader_margin": 0.0}  # fmt: skip
    # words about the question or the notes themselves do not count as terms to cover
    assert features("What is precision, according to my cards?", 0.61, EV, 0.0)["coverage"] == 1.0


def synthetic(n: int, seed: int) -> tuple[list[dict[str, float]], list[bool]]:
    """Answerable questions have close evidence and few unknown terms; unanswerable ones the reverse."""
    rng = random.Random(seed)
    rows, labels = [], []
    for i in range(n):
        yes = i % 2 == 0
        base = 0.6 if yes else 0.3
        rows.append({
            "dense_top": base + rng.gauss(0, 0.08), "unit_top": base + 0.1 + rng.gauss(0, 0.08),
            "coverage": min(1.0, max(0.0, (0.9 if yes else 0.4) + rng.gauss(0, 0.15))),
            "unknown_terms": 0.0 if yes else rng.choice([0.0, 0.25, 0.5]),
            "reader_top": (1.0 if yes else 0.2) + rng.gauss(0, 0.5), "reader_margin": abs(rng.gauss(0, 0.3)),
        })  # fmt: skip
        labels.append(yes)
    return rows, labels


def test_the_model_trains_decides_and_round_trips() -> None:
    rows, labels = synthetic(200, seed=1)
    model = train(rows, labels, trained_on="synthetic")
    test_rows, test_labels = synthetic(200, seed=2)
    accuracy = sum(model.answers(r) == y for r, y in zip(test_rows, test_labels, strict=True)) / len(test_rows)
    assert accuracy > 0.9
    assert model.coef[FEATURES.index("dense_top")] > 0 and model.coef[FEATURES.index("unknown_terms")] < 0
    loaded = AnswerabilityModel.from_dict(json.loads(json.dumps(model.to_dict())))
    assert loaded == model
    assert [loaded.probability(r) for r in test_rows] == [model.probability(r) for r in test_rows]


def test_training_needs_both_labels_and_a_bad_model_file_is_refused() -> None:
    rows, _ = synthetic(10, seed=3)
    with pytest.raises(ValueError, match="both"):
        train(rows, [True] * 10)
    bad = default_model().to_dict() | {"features": ["dense_top", "shoe_size"]}
    with pytest.raises(ValueError, match="unknown features"):
        AnswerabilityModel.from_dict(bad)


def test_the_shipped_model_was_trained_on_the_tune_set() -> None:
    model = default_model()
    assert model.trained_on == "tune.jsonl" and model.n_questions >= 100 and set(model.features) <= set(FEATURES)
