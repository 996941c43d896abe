"""Evidence selection: the retrieved passages' answer units -> the best few, numbered.

Units are made at ingest from the chunker's block structure (``ingest.units``: a list with its lead-in, a code
block with the sentence that introduces it, a table row with its header, a flashcard's answer under its
question, a paragraph's sentences) and embedded there; here they are only scored, so nothing is embedded per
question beyond the question itself. A ``lead_in`` unit ("The following command does it:") is never evidence.

Here: the candidate units and their signals (``candidates``), the hand-set score (``Candidates.scores``, the
reader's baseline), and the choice of the best few within the policy's budget (``choose``); the reader that scores
them in the answer path is ``service.pipeline.reader``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from index import bm25
from index.search import Hit
from index.store import Snapshot
from ingest.types import AnswerUnit, UnitKind
from service.pipeline.policy import Weights


@dataclass(frozen=True)
class Unit:
    """One answer unit of a retrieved passage. ``text`` is exactly the note's text from its first to its last
    character, on lines ``start_line..end_line``."""

    text: str
    context: str  # the heading (or lead-in, or table header) it sits under; shown to the generator, not quoted
    file: str
    heading: str
    start_line: int
    end_line: int
    hit: Hit  # the retrieved passage it comes from
    position: int  # order within its passage
    lead: bool = False  # the first unit right after a heading line of its passage (a flashcard's answer start)
    kind: UnitKind = "prose"

    def display(self) -> str:
        """What the generator reads (and the embedder embedded at ingest): context, then the unit text."""
        return AnswerUnit(self.text, self.start_line, self.end_line, self.kind, self.context, self.lead).display()


@dataclass(frozen=True)
class Evidence:
    n: int  # 1-based number the prompt and the answer's [n] use
    unit: Unit
    score: float  # the combined selection score
    cosine: float  # embedder similarity to the question alone


@dataclass(frozen=True)
class Candidates:
    """Every usable unit of the retrieved passages with the signals that score it."""

    units: list[Unit]
    cosine: np.ndarray
    overlap: np.ndarray  # share of the question's content terms the unit (with its context) holds

    def scores(self, weights: Weights | None = None) -> np.ndarray:
        weights = weights or Weights()
        rank = np.array([1.0 / u.hit.rank for u in self.units])
        lead = np.array([1.0 if u.lead else 0.0 for u in self.units])
        return self.cosine + weights.lexical * self.overlap + weights.rank_prior * rank + weights.lead * lead


def candidates(question: str, hits: Sequence[Hit], snapshot: Snapshot, query_vector: np.ndarray) -> Candidates:
    """The units of the retrieved passages (each distinct text once; lead-ins left out) and their signals."""
    units: list[Unit] = []
    vectors: list[np.ndarray] = []
    seen: set[str] = set()
    for hit in hits:
        stored, unit_vectors = snapshot.units_of(hit.row)
        for position, (u, vector) in enumerate(zip(stored, unit_vectors, strict=True)):
            key = " ".join(u.text.split()).lower()
            if u.kind == "lead_in" or not key or key in seen:
                continue
            seen.add(key)
            c = hit.chunk
            units.append(Unit(u.text, u.context, c.file, c.heading, u.start_line, u.end_line, hit, position, u.lead,
                              u.kind))  # fmt: skip
            vectors.append(vector)
    if not units:
        return Candidates([], np.zeros(0), np.zeros(0))
    cosine = np.stack(vectors).astype(np.float32) @ query_vector.astype(np.float32)
    terms = question_terms(question)
    overlap = np.array([len(terms & bm25.terms(u.display())) / len(terms) if terms else 0.0 for u in units])
    return Candidates(units, cosine, overlap)


def choose(found: Candidates, scores: np.ndarray, max_units: int, char_budget: int) -> list[Evidence]:
    """The best-scored units that fit: at most ``max_units``, no two overlapping, within ``char_budget``
    characters after the first."""
    chosen: list[tuple[float, float, Unit]] = []
    used = 0
    for i in np.argsort(-scores, kind="stable"):
        if len(chosen) >= max_units:
            break
        unit = found.units[int(i)]
        if any(_overlaps(unit, c[2]) for c in chosen):
            continue
        if chosen and used + len(unit.text) > char_budget:
            continue
        chosen.append((float(scores[i]), float(found.cosine[i]), unit))
        used += len(unit.text)
    return [Evidence(n, unit, round(score, 4), round(cos, 4)) for n, (score, cos, unit) in enumerate(chosen, 1)]


def question_terms(question: str) -> set[str]:
    """The question's stemmed content terms, without function words (question words, auxiliaries, pronouns; the
    stemmer's stop list is short) and words about the notes themselves."""
    return bm25.terms(question) - _META_STEMS


_META_STEMS = bm25.QUESTION_WORDS | frozenset(
    bm25.terms(
        "note notes card cards flashcard flashcards deck blog post article page per according from into onto about"
    )
)


def _overlaps(a: Unit, b: Unit) -> bool:
    """The same lines said twice (a passage's overlap with the next, a list and its item)."""
    return (
        a.file == b.file
        and a.start_line <= b.end_line
        and b.start_line <= a.end_line
        and (a.text in b.text or b.text in a.text)
    )
