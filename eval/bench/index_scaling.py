"""HNSW on seeded synthetic 384-d unit vectors: build time, memory, per-query search time and recall@10 against
exact search, for a small sweep of M and efSearch; FAISS flat (exact) and numpy exact as the baselines."""

from __future__ import annotations

import time
from functools import partial
from typing import Any

import faiss
import numpy as np
import psutil

from eval.bench.timing import time_each
from index.hnsw import HnswIndex, HnswParams

DIM = 384
QUERIES = 200
K = 10
# From 1M vectors on, only the default M is built, with a smaller efConstruction: the default (100) would take
# ~11 min there on 2 cores, over half the whole bench's budget. Search quality at 1M is therefore a lower bound.
# Tried at 1M (recall@10 at efSearch 64 / 128): efConstruction 80: 0.980 / 1.000 (514-751 s to build); 64: 0.927 /
# 0.992 (about 20 % less); 40: 0.88 at 128. M=16 with 80: 0.914 / 0.980.
BIG_EF_CONSTRUCTION = 64
# The exact baselines take 60-120 ms a query at 1M: timed on this many of the queries there (all are used for recall).
BIG_BASELINE_QUERIES = 50
# M is swept at 10k vectors (its effect shows there, in seconds); larger sizes build only the default M.
M_SWEEP_MAX = 10_000


def unit_vectors(n: int, seed: int) -> np.ndarray:
    """Clustered rather than uniform (real embeddings are): 1/50 as many centres as vectors, spread around them."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((max(n // 50, 1), DIM)).astype(np.float32)
    x = centres[rng.integers(0, len(centres), n)] + 0.6 * rng.standard_normal((n, DIM)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def recall_at_k(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(f) & set(t)) / len(t) for f, t in zip(found, truth, strict=True)]))


def rss_mb() -> float:
    return float(psutil.Process().memory_info().rss / 1e6)


def run(sizes: list[int], sweep: list[tuple[int, int]], defaults: HnswParams, log: Any = print) -> list[dict[str, Any]]:
    """One row per (size, M, efSearch). ``sweep`` lists (M, efSearch) pairs; above ``M_SWEEP_MAX`` vectors only the
    default M is built and searched with each efSearch of the sweep (from 1M on with BIG_EF_CONSTRUCTION)."""
    rows: list[dict[str, Any]] = []
    for size in sizes:
        data = unit_vectors(size, seed=size)
        queries = unit_vectors(QUERIES, seed=size + 1)
        # queries near the data, as questions are near their passages
        queries = data[np.random.default_rng(size + 2).integers(0, size, QUERIES)] + 0.5 * queries
        queries /= np.linalg.norm(queries, axis=1, keepdims=True)
        flat = faiss.IndexFlatIP(DIM)
        flat.add(data)
        _, truth = flat.search(queries, K)
        singles = [q.reshape(1, -1) for q in queries]
        big = size >= 1_000_000
        timed = singles[:BIG_BASELINE_QUERIES] if big else singles
        flat_t = time_each(partial(_flat_search, flat), timed)
        numpy_t = time_each(partial(_numpy_search, data), timed)
        configs = [(defaults.m, ef) for ef in sorted({ef for _, ef in sweep})] if size > M_SWEEP_MAX else sweep
        ef_construction = BIG_EF_CONSTRUCTION if big else defaults.ef_construction
        for m in sorted({m for m, _ in configs}):
            before = rss_mb()
            started = time.perf_counter()
            index = HnswIndex.build(data, HnswParams(m, ef_construction, defaults.ef_search))
            build_s = time.perf_counter() - started
            memory = rss_mb() - before
            for ef in sorted(ef for mm, ef in configs if mm == m):
                _, found = index.search(queries, K, ef_search=ef)
                search_t = time_each(partial(_hnsw_search, index, ef), singles)
                row = {
                    "size": size, "m": m, "ef_construction": ef_construction, "ef_search": ef, "build_s": round(build_s, 1),
                    "memory_mb": round(memory, 1), "search": search_t.as_dict(),
                    "recall@10": round(recall_at_k(found, truth), 4), "flat": flat_t.as_dict(),
                    "numpy": numpy_t.as_dict(),
                    "default": (m, ef) == (defaults.m, defaults.ef_search),
                }  # fmt: skip
                rows.append(row)
                log(f"  index {size:>9,}  M={m:<3} efC={ef_construction:<4} ef={ef:<4} search p50 {search_t.p50_ms:.3f} ms  "
                    f"recall@10 {row['recall@10']:.3f}  (flat {flat_t.p50_ms:.3f} ms, numpy {numpy_t.p50_ms:.3f} ms)")  # fmt: skip
    return rows


def _flat_search(flat: Any, query: np.ndarray) -> object:
    return flat.search(query, K)


def _numpy_search(data: np.ndarray, query: np.ndarray) -> object:
    return np.argpartition(-(data @ query[0]), K)[:K]


def _hnsw_search(index: HnswIndex, ef: int, query: np.ndarray) -> object:
    return index.search(query, K, ef_search=ef)
