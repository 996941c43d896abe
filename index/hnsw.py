"""A thin wrapper over ``faiss.IndexHNSWFlat`` with inner product (cosine on unit vectors)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

EXACT_WITHIN = 4096  # a scope this small is searched exactly (~1 ms): no graph walk through excluded nodes


@dataclass(frozen=True)
class HnswParams:
    m: int = 32
    ef_construction: int = 200
    ef_search: int = 128


class HnswIndex:
    def __init__(self, index: faiss.IndexHNSWFlat, params: HnswParams) -> None:
        self._index = index
        self.params = params

    @classmethod
    def build(cls, vectors: np.ndarray, params: HnswParams) -> HnswIndex:
        if vectors.ndim != 2:
            raise ValueError(f"expected a 2-d array of vectors, got shape {vectors.shape}")
        index = faiss.IndexHNSWFlat(vectors.shape[1], params.m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = params.ef_construction
        index.hnsw.efSearch = params.ef_search
        if len(vectors):
            index.add(np.ascontiguousarray(vectors, dtype=np.float32))
        return cls(index, params)

    @property
    def dim(self) -> int:
        return int(self._index.d)

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def search(
        self, queries: np.ndarray, k: int, ef_search: int | None = None, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Return (scores, ids), each of shape (n_queries, k'); k' = min(k, len(self)). Best first.

        ``efSearch`` (default: the index's parameter, at least k) is passed with this query only, never written on
        the shared index, so concurrent searches with different values do not disturb each other.
        ``allowed`` (sorted ids): only these are returned. A few thousand are searched exactly; more go through
        the graph with an id selector (and a wider efSearch), falling back to exact when that finds fewer than k."""
        if allowed is not None:
            return self._search_within(queries, k, ef_search, allowed)
        queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        if queries.shape[1] != self.dim:
            raise ValueError(f"query dimension {queries.shape[1]} does not match index dimension {self.dim}")
        k = min(k, len(self))
        if k <= 0:
            empty = np.zeros((len(queries), 0))
            return empty.astype(np.float32), empty.astype(np.int64)
        per_query = faiss.SearchParametersHNSW(efSearch=max(ef_search or self.params.ef_search, k))  # type: ignore[attr-defined]
        scores, ids = self._index.search(queries, k, params=per_query)
        return scores, ids

    def _search_within(
        self, queries: np.ndarray, k: int, ef_search: int | None, allowed: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        k = min(k, len(allowed))
        if len(allowed) > EXACT_WITHIN and k > 0:
            widen = min(len(self) / len(allowed), 16.0)  # rarer allowed ids: explore more of the graph
            ef = int(max(ef_search or self.params.ef_search, k) * widen)
            selector = faiss.IDSelectorBatch(allowed)
            params = faiss.SearchParametersHNSW(efSearch=ef, sel=selector)  # type: ignore[attr-defined]
            scores, ids = self._index.search(queries, k, params=params)
            if bool(np.all(ids >= 0)):
                return scores, ids
        vectors = self._index.reconstruct_batch(allowed)
        sims = queries @ vectors.T
        top = np.argsort(-sims, axis=1, kind="stable")[:, :k]
        return np.take_along_axis(sims, top, axis=1), allowed[top]

    def vectors(self, ids: list[int]) -> np.ndarray:
        """The stored vectors of the given ids (HNSW flat keeps them exactly)."""
        if not ids:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([self._index.reconstruct(int(i)) for i in ids])

    def save(self, path: Path) -> None:
        faiss.write_index(self._index, str(path))

    @classmethod
    def load(cls, path: Path, params: HnswParams) -> HnswIndex:
        """The stored vectors are memory-mapped (``IO_FLAG_MMAP_IFC``), not copied: a large index opens in
        milliseconds, its pages are shared between workers and the page cache, and only the graph is read into memory.
        Versions are never modified in place, and a pruned version's mapping stays valid until it is closed."""
        index = faiss.read_index(str(path), faiss.IO_FLAG_MMAP_IFC)
        if not isinstance(index, faiss.IndexHNSWFlat):
            raise ValueError(f"{path} is not an HNSW flat index")
        return cls(index, params)
