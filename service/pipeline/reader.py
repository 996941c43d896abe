"""The reader: which answer unit of the retrieved passages answers the question?

A logistic regression over generic, vault-independent signals of a (question, unit) pair — how close they are
(embedder cosine, shared and IDF-weighted shared terms, against the best candidate too), what the unit is (a code
block, a list, a formula, a definition, a table row, prose; where it sits under its heading) against what the
question asks for (a command, a list, a formula, a definition, a number). Trained by ``notes-qa calibrate`` on
labelled questions: a unit holding an accepted answer phrase is a positive, the other units of the same passages
negatives. Nothing in the features names a vault, a topic or a word, so the shipped model carries to notes it
never saw. Its best score and the margin to the runner-up are also answerability inputs.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import ClassVar

import numpy as np

from index import bm25
from index.bm25 import Bm25Index
from service.pipeline.evidence import Candidates, question_terms
from service.pipeline.linear import LinearModel

UNIT_KINDS = ("prose", "definition", "formula", "list", "code", "table_row")
ASKS = ("howto", "list", "formula", "definition", "number")
_ASK_PATTERNS = {
    "howto": re.compile(
        r"^\s*how (do|can|should|would|could) (i|you|we|one)\b|^\s*how to\b|\b(which|what) (command|flag|option|"
        r"syntax|query|code|script|config)\b|\bcommand\b",
        re.IGNORECASE,
    ),
    "list": re.compile(
        r"^\s*(what|which) (are|were)\b|\b(list|types|kinds|steps|examples|advantages|disadvantages|benefits|"
        r"differences|pros|cons|ways|components|features|options|stages|phases|categories)\b",
        re.IGNORECASE,
    ),
    "formula": re.compile(r"\b(formula|equation|calculate[ds]?|compute[ds]?|computing|calculating)\b", re.IGNORECASE),
    "definition": re.compile(
        r"^\s*(what|who) (is|was)\b|^\s*what does .* (mean|stand for)|\b(define|definition|meaning of|stands? for)\b",
        re.IGNORECASE,
    ),
    "number": re.compile(
        r"^\s*how (many|much|long|big|large|fast|often)\b|\bwhat (percentage|number|year|size|version|port)\b",
        re.IGNORECASE,
    ),
}
_DIGIT = re.compile(r"\d")
_MARKUP = re.compile(r"[*_`#>|]|^\s*([-+•]|\d{1,2}[.)])\s", re.MULTILINE)
_LINK = re.compile(r"https?://\S+|\]\([^)]*\)")  # a URL, or a markdown link's target: a pointer, not an answer
OPENING_WORDS = 8  # a unit that opens with the question's subject ("RLHF is …", "Recall = …") states it
# A unit suits what the question asks for: a command → code, a list → a list, ...
_SUITS = {"howto": ("code",), "list": ("list", "table_row"), "formula": ("formula",), "definition": ("definition",)}

FEATURES = (
    "cosine", "cosine_gap", "passage_cosine", "passage_rank", "overlap", "idf_overlap", "idf_overlap_gap",
    "text_overlap", "context_overlap", "opens_with_subject", "novelty", "link_share", "lead", "position", "log_chars", "has_number",
    *(f"kind_{k}" for k in UNIT_KINDS), "suits", "number_asked_and_given",
)  # fmt: skip
# (What the question asks for is not a feature by itself: it is the same for every unit of a question, so it cannot
# rank them; it counts through whether a unit suits it.)


def asks(question: str) -> dict[str, bool]:
    """What kind of answer the question asks for (several may hold: "how do I compute X" asks a formula)."""
    return {name: bool(p.search(question)) for name, p in _ASK_PATTERNS.items()}


def features(question: str, found: Candidates, lexicon: Bm25Index) -> np.ndarray:
    """One row of ``FEATURES`` per candidate unit."""
    n = len(found.units)
    if n == 0:
        return np.zeros((0, len(FEATURES)))
    asked = question_terms(question)
    weight = {t: _idf(lexicon, t) for t in asked}
    total = sum(weight.values()) or 1.0
    kinds = asks(question)
    rows = []
    for unit, cos, overlap in zip(found.units, found.cosine, found.overlap, strict=True):
        text_terms = bm25.terms(unit.text)
        context_terms = bm25.terms(f"{unit.context} {unit.heading}")
        shared = asked & (text_terms | context_terms)
        idf_overlap = sum(weight[t] for t in shared) / total
        suits = any(kinds.get(a) and unit.kind in k for a, k in _SUITS.items())
        given = bool(_DIGIT.search(unit.text))
        opening = bm25.terms(" ".join(_MARKUP.sub(" ", unit.text).split()[:OPENING_WORDS]))
        rows.append(
            [
                float(cos),
                0.0,
                unit.hit.score,
                1.0 / unit.hit.rank,
                float(overlap),
                idf_overlap,
                0.0,
                len(asked & text_terms) / len(asked) if asked else 0.0,
                len(asked & context_terms) / len(asked) if asked else 0.0,
                len(asked & opening) / len(asked) if asked else 0.0,
                len(text_terms - asked) / len(text_terms) if text_terms else 0.0,
                sum(len(m) for m in _LINK.findall(unit.text)) / max(len(unit.text), 1),
                float(unit.lead),
                1.0 / (1 + unit.position),
                math.log1p(len(unit.text)),
                float(given),
                *(float(unit.kind == k) for k in UNIT_KINDS),
                float(suits),
                float(kinds["number"] and given),
            ]
        )
    x = np.array(rows, dtype=np.float64)
    x[:, 1] = x[:, 0] - x[:, 0].max()  # against the best candidate
    x[:, 6] = x[:, 5] - x[:, 5].max()
    return x


@dataclass(frozen=True)
class ReaderModel(LinearModel):
    """Standardised features -> a linear score: higher ranks a unit above the question's other units (the
    logistic of the difference of two units' scores is the probability that the first is the answer, not the
    second)."""

    KIND: ClassVar[str] = "unit-reader-pairwise-logistic"
    KNOWN: ClassVar[tuple[str, ...]] = FEATURES

    def scores(self, x: np.ndarray) -> np.ndarray:
        """The ranking score of each row of ``features`` output."""
        if len(x) == 0:
            return np.zeros(0)
        columns = [FEATURES.index(f) for f in self.features]
        return np.asarray((x[:, columns] - np.array(self.mean)) / np.array(self.scale) @ np.array(self.coef))


# Training: pairs within a question (a unit that holds an answer against one that does not: RankNet's pairwise
# logistic loss, so the model learns to rank units of one question, not to score units in general), at most
# PAIRS_PER_QUESTION pairs each. Regularisation chosen by grouped 5-fold cross-validation on tune.jsonl (unit top-1;
# `notes-qa reader-cv eval/questions/tune.jsonl --cross-validate`).
INVERSE_REGULARISATION = 0.001
PAIRS_PER_QUESTION = 30


def train(
    groups: Sequence[np.ndarray], labels: Sequence[np.ndarray], trained_on: str = "", c: float = INVERSE_REGULARISATION
) -> ReaderModel:
    """Fit on per-question feature matrices and their 0/1 labels (a unit holds an accepted phrase)."""
    from sklearn.linear_model import LogisticRegression

    x_all = np.concatenate(list(groups))
    mean = x_all.mean(axis=0)
    scale = x_all.std(axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    rng = np.random.default_rng(0)
    diffs: list[np.ndarray] = []
    for x, y in zip(groups, labels, strict=True):
        pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
        pairs = [(p, n) for p in pos for n in neg]
        if len(pairs) > PAIRS_PER_QUESTION:
            pairs = [pairs[i] for i in rng.choice(len(pairs), PAIRS_PER_QUESTION, replace=False)]
        z = (x - mean) / scale
        diffs.extend(z[p] - z[n] for p, n in pairs)
    if not diffs:
        raise ValueError("training the reader needs questions with units that hold answers and units that do not")
    d = np.array(diffs)
    fit = LogisticRegression(C=c, max_iter=3000, fit_intercept=False).fit(
        np.concatenate([d, -d]), np.concatenate([np.ones(len(d)), np.zeros(len(d))])
    )
    return ReaderModel(
        FEATURES,
        tuple(float(v) for v in mean),
        tuple(float(v) for v in scale),
        tuple(float(v) for v in fit.coef_[0]),
        0.0,
        trained_on,
        len(groups),
    )


@cache
def default_reader() -> ReaderModel:
    """The reader shipped with the package (trained on eval/questions/tune.jsonl over the bundled notes)."""
    text = resources.files("service.pipeline").joinpath("reader_default.json").read_text(encoding="utf-8")
    return ReaderModel.from_dict(json.loads(text))


def _idf(lexicon: Bm25Index, stem: str) -> float:
    """BM25's IDF of a stem in this index version (a term the notes never use weighs the most)."""
    return lexicon.idf(stem)
