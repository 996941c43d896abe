"""Search a loaded index version: dense (HNSW), lexical (BM25), or both fused by reciprocal rank fusion."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from index.scope import Scope
from index.store import Snapshot
from ingest.types import Chunk

RetrievalMode = Literal["dense", "bm25", "hybrid"]
RRF_K = 60  # the constant from Cormack et al. (2009)
UNIT_VOTE = True


@dataclass(frozen=True)
class Hit:
    chunk: Chunk
    score: float  # cosine similarity between question and passage (for every mode: the abstention signal)
    rank: int  # 1-based, in the mode's ranking
    row: int = -1  # the passage's row in the snapshot it was found in (its answer units: ``Snapshot.units_of``)


def search(
    snapshot: Snapshot,
    question: str,
    query: np.ndarray,
    k: int,
    mode: RetrievalMode = "hybrid",
    scope: Scope | None = None,
    unit_vote: bool = UNIT_VOTE,
) -> list[Hit]:
    """The top-k passages; with a ``scope``, only passages in it (``NothingInScope`` when it holds none). In hybrid
    mode a third ranking joins the fusion: the pool's passages by their best answer unit's cosine (a passage whose
    one line answers — "Recall = TP/(TP+FN)" among other metrics — is found by that line)."""
    allowed = snapshot.rows_in(scope) if scope and not scope.is_everything else None
    pool = max(k * 4, 20)
    if mode == "dense":
        ranked = _dense_ids(snapshot, query, k, allowed)
    elif mode == "bm25":
        ranked = [int(i) for i in snapshot.bm25.search(question, k, allowed)[1]]
    else:
        dense = _dense_ids(snapshot, query, pool, allowed)
        lexical = [int(i) for i in snapshot.bm25.search(question, pool, allowed)[1]]
        rankings = [dense, lexical]
        if unit_vote:
            rankings.append(_by_best_unit(snapshot, query, reciprocal_rank_fusion(rankings)[:pool]))
        ranked = reciprocal_rank_fusion(rankings)[:k]
    cosines = snapshot.index.vectors(ranked) @ query.astype(np.float32) if ranked else np.zeros(0)
    return [
        Hit(snapshot.chunks[i], float(s), rank, i) for rank, (i, s) in enumerate(zip(ranked, cosines, strict=True), 1)
    ]


def reciprocal_rank_fusion(rankings: list[list[int]], k: int = RRF_K) -> list[int]:
    """Fuse rankings of ids: score(id) = sum over rankings of 1 / (k + rank). Ties keep first-seen order."""
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
    return sorted(scores, key=lambda item: -scores[item])


def _by_best_unit(snapshot: Snapshot, query: np.ndarray, pool: list[int]) -> list[int]:
    best = []
    for row in pool:
        _, vectors = snapshot.units_of(row)
        best.append(float((vectors @ query.astype(np.float32)).max()) if len(vectors) else -1.0)
    return [pool[i] for i in np.argsort(-np.array(best), kind="stable")]


def _dense_ids(snapshot: Snapshot, query: np.ndarray, k: int, allowed: np.ndarray | None) -> list[int]:
    _, ids = snapshot.index.search(query.reshape(1, -1), k, allowed=allowed)
    return [int(i) for i in ids[0] if i >= 0]
