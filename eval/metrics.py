"""Scoring functions: retrieval (hit@k, MRR, nDCG), answers (containment, token F1), abstention, thresholds."""

from __future__ import annotations

import math
import re
import string
from collections import Counter
from collections.abc import Sequence

_SPACE = re.compile(r"\s+")
_ARTICLES = re.compile(r"\b(a|an|the)\b")


def normalize(text: str) -> str:
    """Lower case, quotes unified, whitespace collapsed (used for evidence and must-contain matching)."""
    text = text.replace("’", "'").replace("‘", "'").replace("“", '"').replace("”", '"')
    return _SPACE.sub(" ", text.lower()).strip()


def contains_evidence(passage: str, evidence: str) -> bool:
    return normalize(evidence) in normalize(passage)


def first_relevant_rank(passages: Sequence[str], evidences: Sequence[str]) -> int | None:
    """1-based rank by which every evidence has appeared in some passage (multi-hop needs all); None if never."""
    if not evidences:
        return None
    ranks = []
    for evidence in evidences:
        rank = next((i for i, p in enumerate(passages, 1) if contains_evidence(p, evidence)), None)
        if rank is None:
            return None
        ranks.append(rank)
    return max(ranks)


def hit_at_k(rank: int | None, k: int) -> float:
    return 1.0 if rank is not None and rank <= k else 0.0


def reciprocal_rank(rank: int | None, k: int = 10) -> float:
    return 1.0 / rank if rank is not None and rank <= k else 0.0


def ndcg_at_k(passages: Sequence[str], evidences: Sequence[str], k: int = 10, relevant: int | None = None) -> float:
    """Binary relevance: a passage is relevant if it contains any evidence; ideal = ``relevant`` relevant passages
    (default one per evidence; one when the evidences are places saying the same thing)."""
    gains = [1.0 if any(contains_evidence(p, e) for e in evidences) else 0.0 for p in passages[:k]]
    dcg = sum(g / math.log2(i + 2) for i, g in enumerate(gains))
    ideal = sum(1.0 / math.log2(i + 2) for i in range(min(len(evidences) if relevant is None else relevant, k)))
    return dcg / ideal if ideal else 0.0


def phrase_in(text: str, phrase: str, reference: str = "") -> bool:
    """``phrase`` occurs in ``text`` as whole words (case, quotes and spacing ignored): "type i" is not in "type ii",
    "a" is not in "an answer". It may end inside a word only where its last word is a stem of a word of the
    ``reference`` answer ("optimi" for a reference saying "optimizer"), so a label can accept word forms it names."""
    t, p = normalize(text), normalize(phrase)
    if not p:
        return False
    stem = _is_stem(p, reference)
    start = t.find(p)
    while start >= 0:
        end = start + len(p)
        opens = start == 0 or not (t[start - 1].isalnum() and p[0].isalnum())
        closes = end == len(t) or not (t[end].isalnum() and p[-1].isalnum()) or stem
        if opens and closes:
            return True
        start = t.find(p, start + 1)
    return False


def accepted_phrases(question: str, must_contain_any: Sequence[str], either_or: bool, reference: str = "") -> list[str]:
    """The phrases that can prove an answer right. One the question itself contains proves nothing (an answer that
    repeats the question would pass), except in an either/or question, whose options are in the question by
    construction and whose wrong option is ruled out by ``must_not_contain``."""
    if either_or:
        return list(must_contain_any)
    return [p for p in must_contain_any if not phrase_in(question, p, reference)]


def answer_correct(
    answer: str,
    question: str,
    must_contain_any: Sequence[str],
    must_not_contain: Sequence[str] = (),
    reference: str = "",
) -> bool:
    """The strict answer test: an accepted phrase (``accepted_phrases``) as whole words, and no phrase of
    ``must_not_contain`` (an either/or question's wrong option)."""
    accepted = accepted_phrases(question, must_contain_any, bool(must_not_contain), reference)
    return any(phrase_in(answer, p, reference) for p in accepted) and not any(
        phrase_in(answer, p, reference) for p in must_not_contain
    )


_STEM_MIN_CHARS = 4
_WORDS = re.compile(r"[0-9a-z]+")


def _is_stem(phrase: str, reference: str) -> bool:
    """The phrase's last word is a strict prefix (of 4+ characters) of a word of the reference answer."""
    words = _WORDS.findall(phrase)
    if not words or not phrase[-1].isalnum() or len(words[-1]) < _STEM_MIN_CHARS:
        return False
    last = words[-1]
    return any(w.startswith(last) and w != last for w in _WORDS.findall(normalize(reference)))


def _f1_tokens(text: str) -> list[str]:
    text = "".join(ch for ch in text.lower() if ch not in set(string.punctuation))
    return _ARTICLES.sub(" ", text).split()


def token_f1(prediction: str, reference: str) -> float:
    """SQuAD-style token F1."""
    pred, ref = _f1_tokens(prediction), _f1_tokens(reference)
    if not pred or not ref:
        return float(pred == ref)
    common = sum((Counter(pred) & Counter(ref)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


def percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def threshold_sweep(
    scores: Sequence[float], answerable: Sequence[bool], correct_if_answered: Sequence[bool]
) -> list[tuple[float, float, float, float]]:
    """For each candidate threshold t: (t, overall, answer accuracy, NoAns accuracy).

    Below t the system abstains before generating. ``correct_if_answered`` is what the pipeline got right when
    the threshold let the question through: the right answer (answerable) or an abstention of its own
    (unanswerable). Overall counts both kinds of right, as in SQuAD 2.0's best-threshold search.
    """
    candidates = sorted({0.0, *scores, max(scores, default=0.0) + 1e-6})
    rows = []
    n_ans = sum(answerable) or 1
    n_unans = (len(answerable) - sum(answerable)) or 1
    for t in candidates:
        ans_ok = sum(a and s >= t and c for s, a, c in zip(scores, answerable, correct_if_answered, strict=True))
        noans_ok = sum(not a and (s < t or c) for s, a, c in zip(scores, answerable, correct_if_answered, strict=True))
        rows.append((t, (ans_ok + noans_ok) / max(len(scores), 1), ans_ok / n_ans, noans_ok / n_unans))
    return rows


def best_threshold(rows: Sequence[tuple[float, float, float, float]]) -> float:
    """The threshold with the best overall score; ties go to the lowest (fewest needless abstentions)."""
    best = max(rows, key=lambda r: (r[1], -r[0]))
    return best[0]
