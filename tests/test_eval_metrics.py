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


def test_phrases_match_whole_words_case_and_quotes_aside() -> None:
    assert metrics.phrase_in("It’s J’AIME first", "j'aime")
    assert not metrics.phrase_in("nothing here", "j'aime")
    assert not metrics.phrase_in("This is a type II error.", "type i")  # "type i" is not in "type ii"
    assert metrics.phrase_in("This is a type I error.", "type i")
    assert not metrics.phrase_in("an answer", "a") and not metrics.phrase_in("x = 10", "0")
    assert metrics.phrase_in("Recall = TP/(TP+FN).", "TP/(TP+FN)")  # a phrase ending in punctuation
    assert not metrics.phrase_in("the retested model", "test")


def test_a_phrase_ends_inside_a_word_only_as_a_stem_of_the_reference() -> None:
    assert metrics.phrase_in("It optimises the weights", "optimi", reference="an optimizer")
    assert not metrics.phrase_in("It optimises the weights", "optimi", reference="")
    assert not metrics.phrase_in("type ii", "type i", reference="type i error is a false positive")  # too short


def test_echoing_the_question_never_scores() -> None:
    q = "What does the dropout layer do during training?"
    assert metrics.accepted_phrases(q, ["dropout", "randomly zeroes"], either_or=False) == ["randomly zeroes"]
    assert not metrics.answer_correct(q, q, ["dropout", "training"])
    assert metrics.answer_correct("It randomly zeroes activations.", q, ["dropout", "randomly zeroes"])


def test_either_or_questions_rule_out_the_wrong_option() -> None:
    q = "Does boosting reduce bias or variance?"
    assert metrics.answer_correct("Boosting mainly reduces bias.", q, ["bias"], ["variance"])
    assert not metrics.answer_correct(q, q, ["bias"], ["variance"])  # the echo holds both options
    assert not metrics.answer_correct("It reduces variance.", q, ["bias"], ["variance"])


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
