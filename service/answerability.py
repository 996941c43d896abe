"""Grounding and answerability, in one place: is the model's draft supported by the evidence it cites (else
the best evidence is quoted instead), and do the notes answer the question at all (a logistic regression over
a few measured signals, trained by ``notes-qa calibrate`` and stored with the index version)?

Nothing here is a hand-set cut-off on question scores. The draft rules are plain definitions — a draft must
say something, cite (or be attributable to) evidence, state no number the evidence and question do not, and
take most of its words from what it cites — and the one decision that weighs evidence strength is learned.
That decision comes first: it needs only retrieval and evidence signals, so "no answer found" costs no
generation.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from index import bm25
from ingest.types import HEADING_SEP
from service.evidence import Evidence, question_terms
from service.prompting import cited_numbers, is_refusal, strip_citations

MAX_ANSWER_WORDS = 60
# The model's verdict: answer when P(answerable) is at least one half (the probability's own midpoint).
DECISION_PROBABILITY = 0.5
# The model's inputs: all known once the evidence is chosen, so a question the notes do not answer costs no
# generation. Draft signals (refusal, draft kept, draft support, invented number) were tried as inputs too: in
# 5-fold cross-validation on tune.jsonl they did not help (overall accuracy 0.697 with them, 0.718 without;
# "overall" counts right answers plus right abstentions).
FEATURES = (
    "dense_top",  # cosine of the best retrieved passage
    "unit_top",  # cosine of the best evidence unit
    "coverage",  # share of the question's content terms found in the evidence
    "unknown_terms",  # share of the question's content terms the notes never use (not even misspelled)
    "reader_top",  # the reader's score of the best unit (service/reader.py)
    "reader_margin",  # how far it stands above the runner-up
)
# Regularisation, and no class re-weighting (the labelled set's own share of answerable questions is the prior),
# chosen by the same cross-validation (C in 0.3/1/3): re-weighting to 50/50 cost 0.04 overall accuracy
# (false abstentions 0.18 vs 0.04, NoAns 0.84 vs 0.73).
INVERSE_REGULARISATION = 3.0
INVENTED_NUMBER = "states a number no evidence gives"
_NUMBER = re.compile(r"^\d[\d.,]*\d$")  # 2+ characters: single digits occur everywhere
_NORM = re.compile(r"[^0-9a-z]+")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_ECHO = re.compile(r"^\s*\[\d{1,2}\]\s*\(")  # starts like a line of the prompt's notes: "[1] (heading) ..."
_CITATION_AS_ANSWER = re.compile(r"\b(is|are|was|as|follows)\s*:?\s*\[\d{1,2}\](?=\s*(?:[.:]|$))", re.IGNORECASE)
_LEADING_CITE = re.compile(r"^\s*(\[\d{1,2}(?:\s*,\s*\d{1,2})*\])\s*(.+)$", re.DOTALL)


@dataclass(frozen=True)
class Draft:
    """The generator's reply, checked against the evidence."""

    text: str  # the reply, citations possibly added or moved
    cited: tuple[int, ...]
    kept: bool
    support: float
    problem: str | None = None  # why it was not kept


def check_draft(question: str, reply: str, evidence: Sequence[Evidence]) -> Draft:
    reply = reply.strip()
    if (m := _LEADING_CITE.match(reply)) and not _ECHO.match(reply):
        reply = f"{m.group(2).strip()} {m.group(1)}"  # "[1] MRKL stands for ..." -> "MRKL stands for ... [1]"
    cited = cited_numbers(reply, len(evidence))
    if is_refusal(reply, cited):
        return Draft(reply, (), False, 0.0, "refused")
    body = strip_citations(reply)
    words = _terms(body)
    if not words:
        return Draft(reply, tuple(cited), False, 0.0, "no content")
    if _is_heading_copy(body, evidence):
        return Draft(reply, tuple(cited), False, 0.0, "copied a heading")
    if _ECHO.match(reply):
        return Draft(reply, tuple(cited), False, 0.0, "echoed the numbered notes")
    if _CITATION_AS_ANSWER.search(reply):
        return Draft(reply, tuple(cited), False, 0.0, "points at a note instead of answering")
    asked = bm25.terms(question)
    if not words - asked:
        return Draft(reply, tuple(cited), False, 0.0, "only restates the question")
    unit_terms = [_terms(e.unit.display()) for e in evidence]
    support = [len(words & (terms | asked)) / len(words) for terms in unit_terms]
    best = max(range(len(evidence)), key=support.__getitem__) + 1
    if not cited or max(support[n - 1] for n in cited) < support[best - 1]:
        reply = f"{strip_citations(reply)} [{best}]"  # uncited, or cited by habit ([1]) where [best] holds the words
        cited = [best]
    share = max(support[n - 1] for n in cited)
    known = set().union(*unit_terms) | asked
    if any(_NUMBER.match(t) for t in words - known):
        return Draft(reply, tuple(cited), False, share, INVENTED_NUMBER)
    if share <= 0.5:
        return Draft(reply, tuple(cited), False, share, "most of it is not in the cited evidence")
    if len(body.split()) > MAX_ANSWER_WORDS or _unfinished(body):
        reply = f"{_limit_words(_finished_sentences(body))} [{', '.join(map(str, cited))}]"
    return Draft(reply, tuple(cited), True, share)


def quote_answer(evidence: Sequence[Evidence]) -> tuple[str, tuple[int, ...]]:
    """The fallback answer: the best-scored evidence unit, quoted (a failed draft's citations are no guide)."""
    text = " ".join(evidence[0].unit.text.split())
    return f"“{_limit_words(text, MAX_ANSWER_WORDS - 1)}” [1]", (1,)


def features(
    question: str,
    dense_top: float,
    evidence: Sequence[Evidence],
    unknown_share: float,
    reader_top: float = 0.0,
    reader_margin: float = 0.0,
) -> dict[str, float]:
    asked = question_terms(question)
    found = set().union(*(bm25.terms(e.unit.display()) for e in evidence)) if evidence else set()
    return {
        "dense_top": round(dense_top, 4),
        "unit_top": round(max((e.cosine for e in evidence), default=0.0), 4),
        "coverage": round(len(asked & found) / len(asked), 4) if asked else 0.0,
        "unknown_terms": round(unknown_share, 4),
        "reader_top": round(reader_top, 4),
        "reader_margin": round(reader_margin, 4),
    }


@dataclass(frozen=True)
class AnswerabilityModel:
    """Standardised features -> logistic regression -> P(the notes answer the question)."""

    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float
    trained_on: str = ""
    n_questions: int = 0

    def probability(self, values: dict[str, float]) -> float:
        z = self.intercept + sum(
            c * (values[f] - m) / s for f, m, s, c in zip(self.features, self.mean, self.scale, self.coef, strict=True)
        )
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))

    def answers(self, values: dict[str, float]) -> bool:
        return self.probability(values) >= DECISION_PROBABILITY

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "logistic-regression",
            "features": list(self.features),
            "mean": list(self.mean),
            "scale": list(self.scale),
            "coef": list(self.coef),
            "intercept": self.intercept,
            "trained_on": self.trained_on,
            "n_questions": self.n_questions,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AnswerabilityModel:
        model = cls(
            features=tuple(data["features"]),
            mean=tuple(float(v) for v in data["mean"]),
            scale=tuple(float(v) for v in data["scale"]),
            coef=tuple(float(v) for v in data["coef"]),
            intercept=float(data["intercept"]),
            trained_on=str(data.get("trained_on", "")),
            n_questions=int(data.get("n_questions", 0)),
        )
        if set(model.features) - set(FEATURES) or not (
            len(model.features) == len(model.mean) == len(model.scale) == len(model.coef)
        ):
            raise ValueError(f"answerability model uses unknown features or is malformed: {model.features}")
        return model


def train(
    rows: Sequence[dict[str, float]],
    labels: Sequence[bool],
    trained_on: str = "",
    inputs: Sequence[str] = FEATURES,
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
    )


@cache
def default_model() -> AnswerabilityModel:
    """The model shipped with the package (trained on eval/questions/tune.jsonl over the bundled notes)."""
    text = resources.files("service").joinpath("answerability_default.json").read_text(encoding="utf-8")
    return AnswerabilityModel.from_dict(json.loads(text))


def _terms(text: str) -> set[str]:
    return bm25.terms(strip_citations(text))


def _is_heading_copy(body: str, evidence: Sequence[Evidence]) -> bool:
    """The draft only repeats a heading (a small model's favourite non-answer)."""
    said = _NORM.sub("", body.lower())
    headings = {
        _NORM.sub("", h.lower()) for e in evidence for h in (e.unit.context, *e.unit.heading.split(HEADING_SEP))
    }
    return bool(said) and said in headings


def _unfinished(text: str) -> bool:
    """Decoding hit its token limit mid-sentence (and an earlier sentence is complete)."""
    return not text.rstrip().endswith((".", "!", "?", ")", "]", '"', "”")) and bool(_SENTENCE_END.search(text))


def _finished_sentences(text: str) -> str:
    """The text up to its last complete sentence, when it was cut off mid-sentence."""
    if not _unfinished(text):
        return text
    return " ".join(_SENTENCE_END.split(text)[:-1])


def _limit_words(text: str, limit: int = MAX_ANSWER_WORDS) -> str:
    """At most ``limit`` words: whole sentences while they fit, else the first words and an ellipsis."""
    if len(text.split()) <= limit:
        return text
    kept: list[str] = []
    for sentence in _SENTENCE_END.split(text):
        if len(" ".join([*kept, sentence]).split()) > limit:
            break
        kept.append(sentence)
    if kept:
        return " ".join(kept)
    return " ".join(text.split()[:limit]) + "…"
