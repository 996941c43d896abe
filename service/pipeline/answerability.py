"""Answerability: do the notes answer the question at all? A logistic regression over a few measured signals,
trained by ``notes-qa calibrate`` and stored with the index version (the draft checks are ``service.pipeline.grounding``).

Nothing here is a hand-set cut-off on question scores: the one decision that weighs evidence strength is
learned. It comes first: it needs only retrieval, evidence and reader signals, so "no answer found" costs no
generation.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import ClassVar

from index import bm25
from service.pipeline.evidence import Evidence, question_terms
from service.pipeline.linear import LinearModel
from service.pipeline.reader import asks

# The model's inputs: all known once the evidence is chosen, so a question the notes do not answer costs no
# generation. Draft signals (refusal, draft kept, draft support, invented number) were tried as inputs too: in
# 5-fold cross-validation on tune.jsonl they did not help (overall accuracy 0.697 with them, 0.718 without;
# "overall" counts right answers plus right abstentions).
FEATURES = (
    "dense_top",  # cosine of the best retrieved passage
    "unit_top",  # cosine of the best evidence unit
    "coverage",  # share of the question's content terms found in the evidence
    "unknown_terms",  # share of the question's content terms the notes never use (not even misspelled)
    "reader_top",  # the reader's score of the best unit (service/pipeline/reader.py)
    "reader_margin",  # how far it stands above the runner-up
)
# Regularisation, and no class re-weighting (the labelled set's own share of answerable questions is the prior),
# chosen by the same cross-validation (C in 0.3/1/3): re-weighting to 50/50 cost 0.04 overall accuracy
# (false abstentions 0.18 vs 0.04, NoAns 0.84 vs 0.73).
INVERSE_REGULARISATION = 3.0


def features(
    question: str,
    dense_top: float,
    evidence: Sequence[Evidence],
    unknown_share: float,
    reader_top: float = 0.0,
    reader_margin: float = 0.0,
) -> dict[str, float]:
    asked = question_terms(question) - _answered_shape(question, evidence)
    found = set().union(*(bm25.terms(e.unit.display()) for e in evidence)) if evidence else set()
    return {
        "dense_top": round(dense_top, 4),
        "unit_top": round(max((e.cosine for e in evidence), default=0.0), 4),
        "coverage": round(len(asked & found) / len(asked), 4) if asked else 0.0,
        "unknown_terms": round(unknown_share, 4),
        "reader_top": round(reader_top, 4),
        "reader_margin": round(reader_margin, 4),
    }


# Words that name the shape of an answer rather than its subject: "the formula for recall" is covered by a unit that
# is a formula about recall, though it never says "formula"; likewise a command by a code block.
_SHAPE_WORDS = {
    "formula": ("formula", frozenset(bm25.terms("formula formulas equation equations calculate compute"))),
    "code": ("howto", frozenset(bm25.terms("command commands syntax snippet code"))),
}


def _answered_shape(question: str, evidence: Sequence[Evidence]) -> frozenset[str]:
    """The question's shape words that an evidence unit of that shape answers (left out of coverage)."""
    asked = asks(question)
    kinds = {e.unit.kind for e in evidence}
    out: frozenset[str] = frozenset()
    for kind, (ask, words) in _SHAPE_WORDS.items():
        if asked[ask] and kind in kinds:
            out |= words
    return out


@dataclass(frozen=True)
class AnswerabilityModel(LinearModel):
    """Standardised features -> logistic regression -> P(the notes answer the question)."""

    top_k: int = 0  # the passages its inputs were measured over (0: unknown, a model from before it was recorded)

    KIND: ClassVar[str] = "logistic-regression"
    KNOWN: ClassVar[tuple[str, ...]] = FEATURES

    def probability(self, values: dict[str, float]) -> float:
        z = self.intercept + sum(
            c * (values[f] - m) / s for f, m, s, c in zip(self.features, self.mean, self.scale, self.coef, strict=True)
        )
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))

    def answers(self, values: dict[str, float], cut: float = 0.5) -> bool:
        """The verdict at ``cut`` (the grounding policy's ``decision_probability``; the probability's midpoint)."""
        return self.probability(values) >= cut


def train(
    rows: Sequence[dict[str, float]],
    labels: Sequence[bool],
    trained_on: str = "",
    inputs: Sequence[str] = FEATURES,
    top_k: int = 0,
) -> AnswerabilityModel:
    """Fit the model on feature rows (from ``features``) labelled answerable or not, over ``inputs``."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    if len(set(labels)) < 2:
        raise ValueError("training needs both answerable and unanswerable questions")
    x = np.array([[row[f] for f in inputs] for row in rows], dtype=np.float64)
    y = np.array(labels, dtype=int)
    scaler = StandardScaler().fit(x)
    scale = np.where(scaler.scale_ > 0, scaler.scale_, 1.0)
    fit = LogisticRegression(C=INVERSE_REGULARISATION, max_iter=1000).fit((x - scaler.mean_) / scale, y)
    return AnswerabilityModel(
        tuple(inputs),
        tuple(float(v) for v in scaler.mean_),
        tuple(float(v) for v in scale),
        tuple(float(v) for v in fit.coef_[0]),
        float(fit.intercept_[0]),
        trained_on,
        len(rows),
        top_k,
    )


@cache
def default_model() -> AnswerabilityModel:
    """The model shipped with the package (trained on eval/questions/tune.jsonl over the bundled notes)."""
    text = resources.files("service.pipeline").joinpath("answerability_default.json").read_text(encoding="utf-8")
    return AnswerabilityModel.from_dict(json.loads(text))
