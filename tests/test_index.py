"""HNSW index tests, the FAISS way: seeded synthetic vectors with exact search as the oracle."""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np
import pytest

from index.bm25 import Bm25Index
from index.hnsw import HnswIndex, HnswParams
from index.manifest import IndexMismatch, Manifest
from index.store import IndexNotFound, IndexStore
from ingest.types import Chunk, FileRecord

DIM = 48


def unit_vectors(n: int, seed: int) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, DIM)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def recall_at_k(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(f) & set(t)) / len(t) for f, t in zip(found, truth, strict=True)]))


def test_hnsw_recall_at_10_against_exact_search() -> None:
    data, queries = unit_vectors(5000, seed=0), unit_vectors(200, seed=1)
    exact = faiss.IndexFlatIP(DIM)
    exact.add(data)
    _, truth = exact.search(queries, 10)
    index = HnswIndex.build(data, HnswParams(m=32, ef_construction=200, ef_search=128))
    scores, found = index.search(queries, 10)
    assert recall_at_k(found, truth) >= 0.95
    # Scores are cosines (inner products of unit vectors), best first.
    np.testing.assert_allclose(scores[:, 0], np.sum(queries * data[found[:, 0]], axis=1), rtol=1e-5)
    assert np.all(np.diff(scores, axis=1) <= 1e-6)


def test_low_ef_search_is_measurably_worse_so_the_bound_above_means_something() -> None:
    data, queries = unit_vectors(5000, seed=2), unit_vectors(200, seed=3)
    exact = faiss.IndexFlatIP(DIM)
    exact.add(data)
    _, truth = exact.search(queries, 10)
    weak = HnswIndex.build(data, HnswParams(m=4, ef_construction=8, ef_search=8))
    weak._index.hnsw.efSearch = 8
    _, found = weak._index.search(queries, 10)
    assert recall_at_k(found, truth) < 0.95


def test_concurrent_searches_with_different_ef_search_match_sequential_ones() -> None:
    from concurrent.futures import ThreadPoolExecutor

    data, queries = unit_vectors(5000, seed=8), unit_vectors(64, seed=9)
    index = HnswIndex.build(data, HnswParams(m=8, ef_construction=40, ef_search=16))
    efs = [10, 16, 64, 256] * 8
    sequential = [index.search(queries, 10, ef_search=ef)[1] for ef in efs]
    assert not np.array_equal(sequential[0], sequential[3])  # the setting matters on this index ...
    with ThreadPoolExecutor(max_workers=8) as pool:
        concurrent = list(pool.map(lambda ef: index.search(queries, 10, ef_search=ef)[1], efs))
    for ids_seq, ids_conc in zip(sequential, concurrent, strict=True):
        np.testing.assert_array_equal(ids_seq, ids_conc)  # ... and no search sees another's
    assert index._index.hnsw.efSearch == 16  # the shared index was never written


def test_save_load_gives_identical_results(tmp_path: Path) -> None:
    data, queries = unit_vectors(2000, seed=4), unit_vectors(50, seed=5)
    params = HnswParams(m=16, ef_construction=100, ef_search=64)
    index = HnswIndex.build(data, params)
    index.save(tmp_path / "i.faiss")
    loaded = HnswIndex.load(tmp_path / "i.faiss", params)
    a_scores, a_ids = index.search(queries, 10)
    b_scores, b_ids = loaded.search(queries, 10)
    np.testing.assert_array_equal(a_ids, b_ids)
    np.testing.assert_array_equal(a_scores, b_scores)


def test_load_maps_the_vectors_instead_of_copying_them(tmp_path: Path) -> None:
    import psutil

    data = np.random.default_rng(6).standard_normal((60_000, 384)).astype(np.float32)  # 92 MB of vectors
    data /= np.linalg.norm(data, axis=1, keepdims=True)
    index = HnswIndex.build(data, HnswParams(m=8, ef_construction=16, ef_search=16))
    index.save(tmp_path / "i.faiss")
    del index
    process = psutil.Process()
    before = process.memory_info().rss
    loaded = HnswIndex.load(tmp_path / "i.faiss", HnswParams(m=8, ef_construction=16, ef_search=16))
    grown = process.memory_info().rss - before
    assert grown < data.nbytes / 4, f"loading read {grown / 1e6:.0f} MB for {data.nbytes / 1e6:.0f} MB of vectors"
    np.testing.assert_array_equal(loaded.vectors([0, 59_999]), data[[0, 59_999]])  # and they read back exactly


def test_k_larger_than_index_and_wrong_dimension() -> None:
    index = HnswIndex.build(unit_vectors(3, seed=6), HnswParams())
    _, ids = index.search(unit_vectors(1, seed=7), 10)
    assert ids.shape == (1, 3)
    with pytest.raises(ValueError, match="dimension"):
        index.search(np.ones((1, DIM + 1), dtype=np.float32), 1)


def _manifest(version: str, embedder: str = "emb", dim: int = DIM) -> Manifest:
    return Manifest(
        version=version,
        created_at="now",
        embedder_name=embedder,
        dim=dim,
        chunk_count=3,
        hnsw_m=16,
        hnsw_ef_construction=100,
        hnsw_ef_search=64,
        chunk_max_chars=900,
        chunk_overlap_chars=200,
        fingerprint="f" * 64,
    )


def _write(store: IndexStore, version: str, embedder: str = "emb") -> None:
    vectors = unit_vectors(3, seed=8)
    chunks = [Chunk("a.md", "H", i + 1, i + 1, f"text {i}") for i in range(3)]
    store.write(
        _manifest(version, embedder),
        chunks,
        HnswIndex.build(vectors, HnswParams(16, 100, 64)),
        Bm25Index.build([c.text for c in chunks]),
        [FileRecord("a.md", "0" * 64, "indexed", n_chunks=3)],
        chunks,
        vectors,
        {},
    )


def test_store_roundtrip_and_atomic_version_swap(tmp_path: Path) -> None:
    store = IndexStore(tmp_path / "idx")
    with pytest.raises(IndexNotFound):
        store.load()
    _write(store, "v1")
    _write(store, "v2")
    snap = store.load()
    assert snap.manifest.version == "v2"
    assert [c.text for c in snap.chunks] == ["text 0", "text 1", "text 2"]
    assert (tmp_path / "idx" / "versions" / "v1").is_dir()  # the previous version stays on disk


def test_interrupted_write_leaves_previous_version_served(tmp_path: Path) -> None:
    store = IndexStore(tmp_path / "idx")
    _write(store, "v1")
    # What a SIGKILL mid-write leaves behind: a half-written temporary version directory.
    partial = tmp_path / "idx" / "versions" / ".tmp-v2-abc123"
    partial.mkdir()
    (partial / "hnsw.faiss").write_bytes(b"garbage")
    assert store.load().manifest.version == "v1"
    _write(store, "v3")  # the next successful ingest cleans it up
    assert not partial.exists()


def test_manifest_mismatch_is_refused() -> None:
    manifest = _manifest("v1", embedder="all-MiniLM-L6-v2", dim=384)
    manifest.check_compatible("all-MiniLM-L6-v2", 384)
    with pytest.raises(IndexMismatch, match="built with embedder 'all-MiniLM-L6-v2'"):
        manifest.check_compatible("other-model", 384)
    with pytest.raises(IndexMismatch, match="dim 384"):
        manifest.check_compatible("all-MiniLM-L6-v2", 768)


def test_bm25_tolerates_one_typo_in_long_terms_but_not_short_ones() -> None:
    texts = ["lama Gaurd checks input and output", "the castle of cats and dogs", "a bat sat on a mat"]
    index = Bm25Index.build(texts)
    _, ids = index.search("what does the guard do", 3)
    assert ids.tolist()[0] == 0  # "guard" is not indexed; "gaurd" is one transposition away
    assert index.resolve("guard") == ["gaurd"]
    assert index.resolve("gaurd") == ["gaurd"]  # indexed terms match exactly, not fuzzily
    assert index.resolve("cat") == ["cat"] and index.resolve("rat") == []  # short words: no fuzz
    assert index.unknown({"guard", "nucleus"}) == {"nucleus"}
