"""What one answer rests on, read from one index version: the passages retrieved, the answer units the reader
picked from them within the policy's budget, and the signals the answerability model decides on."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from index.scope import Scope
from index.search import Hit
from index.store import Snapshot
from service.pipeline.answerability import features
from service.pipeline.evidence import Evidence, candidates, choose, question_terms
from service.pipeline.injection import addresses_assistant
from service.pipeline.policy import GroundingPolicy
from service.pipeline.reader import ReaderModel
from service.pipeline.reader import features as reader_features
from service.pipeline.retriever import Retriever

INJECTION_SPARE = 3  # extra passages retrieved so that ones passed over as injections can be replaced


@dataclass(frozen=True)
class Gathered:
    """The passages, the evidence units the reader chose from them, and the reader's scores of every candidate unit
    (best first), all from ``snapshot``."""

    snapshot: Snapshot
    hits: list[Hit]
    evidence: tuple[Evidence, ...]
    reader_scores: tuple[float, ...] = ()

    @property
    def reader_top(self) -> float:
        return self.reader_scores[0] if self.reader_scores else 0.0

    @property
    def reader_margin(self) -> float:
        """How far the best unit stands above the runner-up (one candidate: as far as it stands above zero)."""
        if len(self.reader_scores) < 2:
            return self.reader_top
        return self.reader_scores[0] - self.reader_scores[1]


def gather(
    retriever: Retriever,
    snapshot: Snapshot,
    question: str,
    query_vector: np.ndarray,
    k: int,
    scope: Scope | None,
    reader: ReaderModel,
    policy: GroundingPolicy,
) -> Gathered:
    """The top-k passages of ``snapshot`` and the evidence units the reader picks from them. A passage that talks to
    the assistant (prompt injection planted in a note) is passed over: the next one takes its place."""
    hits = retriever.search_vector(question, query_vector, k, scope, snapshot)
    if any(addresses_assistant(h.chunk.text) for h in hits):
        found = retriever.search_vector(question, query_vector, k + INJECTION_SPARE, scope, snapshot)
        trusted = [h for h in found if not addresses_assistant(h.chunk.text)][:k]
        hits = [h if h.rank == rank else replace(h, rank=rank) for rank, h in enumerate(trusted, 1)]
    units = candidates(question, hits, snapshot, query_vector)
    scores = reader.scores(reader_features(question, units, snapshot.bm25))
    evidence = choose(units, scores, policy.max_units, policy.char_budget)
    return Gathered(snapshot, hits, tuple(evidence), tuple(sorted((float(v) for v in scores), reverse=True)))


def signals(question: str, gathered: Gathered) -> dict[str, float]:
    """The answerability model's inputs: known before any generation."""
    asked = question_terms(question)
    unknown = len(gathered.snapshot.bm25.unknown(asked)) / len(asked) if asked else 0.0
    dense_top = max((h.score for h in gathered.hits), default=0.0)
    return features(question, dense_top, gathered.evidence, unknown, gathered.reader_top, gathered.reader_margin)
