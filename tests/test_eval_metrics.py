from __future__ import annotations

import math

import pytest

from eval import metrics


def test_first_relevant_rank_normalises_and_needs_every_evidence() -> None:
    passages = ["intro", "The  RECALL = tp/(tp+fn)\n formula", "Variables must be initialized before using."]
    assert metrics.first_relevant_rank(passages, ["recall = TP/(TP+FN)"]) == 2
    assert metrics.first_relevant_rank(passages, ["recall = TP/(TP+FN)", "Variables must be initialized"]) == 3
    assert metrics.first_relevant_rank(passages, ["recall = TP/(TP+FN)", "absent"]) is None
    assert metrics.first_relevant_rank(passages, []) is None


def test_hit_and_mrr() -> None:
    assert metrics.hit_at_k(3, 3) == 1.0 and metrics.hit_at_k(4, 3) == 0.0 and metrics.hit_at_k(None, 10) == 0.0
    assert metrics.reciprocal_rank(4) == 0.25 and metrics.reciprocal_rank(11, k=10) == 0.0


def test_ndcg_known_values() -> None:
    assert metrics.ndcg_at_k(["has e", "x"], ["e"]) == 1.0
    assert metrics.ndcg_at_k(["x", "has e"], ["e"]) == pytest.approx(1 / math.log2(3))
    # two evidences, found at ranks 1 and 3: (1 + 1/log2(4)) / (1 + 1/log2(3))
    assert metrics.ndcg_at_k(["a1", "x", "b2"], ["a1", "b2"]) == pytest.approx((1 + 0.5) / (1 + 1 / math.log2(3)))
    assert metrics.ndcg_at_k(["x"], ["e"]) == 0.0


def test_token_f1_squad_style() -> None:
    assert metrics.token_f1("The cat sat", "cat sat") == 1.0
    assert metrics.token_f1("cat", "cat sat") == pytest.approx(2 / 3)
    assert metrics.token_f1("dog", "cat") == 0.0
    assert metrics.token_f1("", "") == 1.0


def test_answer_contains_is_case_and_quote_insensitive() -> None:
    assert metrics.answer_contains("It’s J’AIME first", ["j'aime"])
    assert not metrics.answer_contains("nothing here", ["j'aime", "default"])


def test_percentile() -> None:
    assert metrics.percentile([1, 2, 3, 4], 0.5) == 2.5
    assert metrics.percentile([5], 0.95) == 5
    assert metrics.percentile([], 0.5) == 0.0


def test_threshold_sweep_and_best_threshold() -> None:
    # two answerable (scores 0.8 right, 0.5 wrong) and two unanswerable (0.3 answered wrongly, 0.6 self-abstained)
    scores = [0.8, 0.5, 0.3, 0.6]
    answerable = [True, True, False, False]
    correct_if_answered = [True, False, False, True]
    rows = metrics.threshold_sweep(scores, answerable, correct_if_answered)
    assert [r[0] for r in rows] == [0.0, 0.3, 0.5, 0.6, 0.8, pytest.approx(0.800001)]
    assert rows[0][1:] == (0.5, 0.5, 0.5)  # no threshold: 1 answer right + 1 self-abstention
    assert rows[2][1:] == (0.75, 0.5, 1.0)  # at 0.5 the wrongly answered 0.3 abstains too
    assert rows[4][1:] == (0.75, 0.5, 1.0)
    assert rows[5][1:] == (0.5, 0.0, 1.0)  # above every score: everything abstains
    assert metrics.best_threshold(metrics.threshold_sweep(scores, answerable, correct_if_answered)) == 0.5
