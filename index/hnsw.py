"""A thin wrapper over ``faiss.IndexHNSWFlat`` with inner product (cosine on unit vectors).

FAISS cannot remove a node from an HNSW graph, so a re-ingest that changed a few notes updates a copy of the
previous graph (``updated``): passages that stayed keep their nodes, new ones are added, and the nodes of removed
ones become tombstones — still walked through, never returned. ``rows`` maps each node to the row of the passage
it holds (-1: a tombstone); without tombstones or reordering it is None and node i is row i. The graph is rebuilt
when tombstones pass ``MAX_DEAD_SHARE`` of the nodes, and always below ``INCREMENTAL_FROM`` vectors (cheap there,
and a rebuilt graph equals the one a fresh ingest builds)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

EXACT_WITHIN = 4096  # a scope this small is searched exactly (~1 ms): no graph walk through excluded nodes
INCREMENTAL_FROM = 5_000  # fewer vectors: rebuild (~1.5 s on 2 cores); more: update the previous graph
MAX_DEAD_SHARE = 0.2  # more tombstones than this share of the nodes: rebuild (compaction)


@dataclass(frozen=True)
class HnswParams:
    m: int = 32
    ef_construction: int = 100
    ef_search: int = 128


class HnswIndex:
    def __init__(self, index: faiss.IndexHNSWFlat, params: HnswParams, rows: np.ndarray | None = None) -> None:
        self._index = index
        self.params = params
        self._rows = rows  # node -> row (-1: tombstone); None: the identity
        self._nodes: np.ndarray | None = None  # row -> node
        self._live: np.ndarray | None = None  # bitmap of live nodes, for faiss.IDSelectorBitmap
        if rows is not None:
            live = rows >= 0
            self._nodes = np.zeros(int(live.sum()), dtype=np.int64)
            self._nodes[rows[live]] = np.flatnonzero(live)
            self._live = np.packbits(live, bitorder="little")

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

    def updated(self, vectors: np.ndarray, params: HnswParams) -> tuple[HnswIndex, bool]:
        """An index over ``vectors`` (row order) that reuses this one's graph: a vector this index holds keeps its
        node, the others are added, nodes of vectors no longer present become tombstones. This index is unchanged.
        Rebuilds instead when that is cheap, the graph was built with other parameters, or it would hold too many
        tombstones. Returns the index and whether it reused this graph."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        same_graph = (params.m, params.ef_construction) == (self.params.m, self.params.ef_construction)
        if len(vectors) < INCREMENTAL_FROM or not same_graph or vectors.ndim != 2 or vectors.shape[1] != self.dim:
            return HnswIndex.build(vectors, params), False
        old = self._index.reconstruct_n(0, self._index.ntotal)
        alive = self._rows >= 0 if self._rows is not None else np.ones(len(old), dtype=bool)
        free: dict[int, list[int]] = {}  # hash of a live node's vector -> its nodes
        for node in np.flatnonzero(alive)[::-1]:  # reversed: popped lowest first
            free.setdefault(hash(old[node].tobytes()), []).append(int(node))
        node_of = np.full(len(vectors), -1, dtype=np.int64)
        for row, vector in enumerate(vectors):
            same = free.get(hash(vector.tobytes()))
            if same and np.array_equal(old[same[-1]], vector):
                node_of[row] = same.pop()
        added = np.flatnonzero(node_of < 0)
        nodes = len(old) + len(added)
        if nodes - len(vectors) > MAX_DEAD_SHARE * nodes:
            return HnswIndex.build(vectors, params), False
        index = faiss.deserialize_index(faiss.serialize_index(self._index))  # an owned copy (this one may be mapped)
        assert isinstance(index, faiss.IndexHNSWFlat)
        index.hnsw.efConstruction = params.ef_construction
        index.hnsw.efSearch = params.ef_search
        if len(added):
            index.add(vectors[added])
        node_of[added] = np.arange(len(old), nodes)
        rows = np.full(nodes, -1, dtype=np.int64)
        rows[node_of] = np.arange(len(vectors))
        identity = nodes == len(vectors) and bool(np.all(node_of == np.arange(len(vectors))))
        return HnswIndex(index, params, None if identity else rows), True

    @property
    def dim(self) -> int:
        return int(self._index.d)

    @property
    def tombstones(self) -> int:
        return int(self._index.ntotal) - len(self)

    def __len__(self) -> int:
        return len(self._nodes) if self._nodes is not None else int(self._index.ntotal)

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
        ef = max(ef_search or self.params.ef_search, k)
        if self._live is None:
            per_query = faiss.SearchParametersHNSW(efSearch=ef)  # type: ignore[attr-defined]
            scores, ids = self._index.search(queries, k, params=per_query)
            return scores, ids
        live = faiss.IDSelectorBitmap(int(self._index.ntotal), faiss.swig_ptr(self._live))
        per_query = faiss.SearchParametersHNSW(efSearch=ef, sel=live)  # type: ignore[attr-defined]
        scores, nodes = self._index.search(queries, k, params=per_query)
        return scores, self._to_rows(nodes)

    def _to_rows(self, nodes: np.ndarray) -> np.ndarray:
        if self._rows is None:
            return nodes
        return np.where(nodes >= 0, self._rows[np.maximum(nodes, 0)], -1)

    def _to_nodes(self, rows: np.ndarray) -> np.ndarray:
        return rows if self._nodes is None else self._nodes[rows]

    def _search_within(
        self, queries: np.ndarray, k: int, ef_search: int | None, allowed: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        k = min(k, len(allowed))
        nodes = self._to_nodes(np.asarray(allowed, dtype=np.int64))
        if len(allowed) > EXACT_WITHIN and k > 0:
            widen = min(self._index.ntotal / len(allowed), 16.0)  # rarer allowed ids: explore more of the graph
            ef = int(max(ef_search or self.params.ef_search, k) * widen)
            selector = faiss.IDSelectorBatch(nodes)
            params = faiss.SearchParametersHNSW(efSearch=ef, sel=selector)  # type: ignore[attr-defined]
            scores, found = self._index.search(queries, k, params=params)
            if bool(np.all(found >= 0)):
                return scores, self._to_rows(found)
        vectors = self._index.reconstruct_batch(nodes)
        sims = queries @ vectors.T
        top = np.argsort(-sims, axis=1, kind="stable")[:, :k]
        return np.take_along_axis(sims, top, axis=1), np.asarray(allowed)[top]

    def vectors(self, ids: list[int]) -> np.ndarray:
        """The stored vectors of the given ids (HNSW flat keeps them exactly)."""
        if not ids:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([self._index.reconstruct(int(n)) for n in self._to_nodes(np.asarray(ids, dtype=np.int64))])

    def save(self, path: Path) -> None:
        faiss.write_index(self._index, str(path))
        if self._rows is not None:
            np.save(_rows_path(path), self._rows)

    @classmethod
    def load(cls, path: Path, params: HnswParams) -> HnswIndex:
        """The stored vectors are memory-mapped (``IO_FLAG_MMAP_IFC``), not copied: a large index opens in
        milliseconds, its pages are shared between workers and the page cache, and only the graph is read into memory.
        Versions are never modified in place, and a pruned version's mapping stays valid until it is closed."""
        index = faiss.read_index(str(path), faiss.IO_FLAG_MMAP_IFC)
        if not isinstance(index, faiss.IndexHNSWFlat):
            raise ValueError(f"{path} is not an HNSW flat index")
        rows = _rows_path(path)
        return cls(index, params, np.load(rows) if rows.is_file() else None)


def _rows_path(path: Path) -> Path:
    return path.with_name(path.name + ".rows.npy")
