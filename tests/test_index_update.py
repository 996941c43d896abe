"""Updating an HNSW graph in place of a rebuild (new vectors added, removed ones tombstoned), tested the FAISS way:
seeded synthetic vectors, exact search over the new set as the oracle, save -> load -> identical results."""

from __future__ import annotations

import shutil
from pathlib import Path

import faiss
import numpy as np
import pytest

import index.hnsw as hnsw
from index.build import IngestConfig, run_ingest
from index.hnsw import HnswIndex, HnswParams
from index.store import IndexStore
from tests.conftest import NOTES
from tests.fakes import HashEmbedder
from tests.test_index import recall_at_k, unit_vectors

PARAMS = HnswParams(m=32, ef_construction=100, ef_search=128)


def exact_top(data: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    flat = faiss.IndexFlatIP(data.shape[1])
    flat.add(data)
    return flat.search(queries, k)[1]


@pytest.fixture(scope="module")
def edit() -> tuple[HnswIndex, np.ndarray, np.ndarray]:
    """A 12,000-vector index, and the vectors after an edit: 600 removed, 400 added, the rest shuffled."""
    old = unit_vectors(12_000, seed=20)
    index = HnswIndex.build(old, PARAMS)
    rng = np.random.default_rng(21)
    kept = old[np.sort(rng.choice(len(old), len(old) - 600, replace=False))]
    new = np.concatenate([kept, unit_vectors(400, seed=22)])
    return index, old, new[rng.permutation(len(new))]


def test_an_updated_graph_finds_the_new_vectors_and_never_a_removed_one(edit: tuple) -> None:
    index, old, new = edit
    updated, reused = index.updated(new, PARAMS)
    assert reused and len(updated) == len(new) and updated.tombstones == 600
    queries = np.concatenate([unit_vectors(100, seed=23), new[-5:], old[:5]])  # some ask for removed vectors
    scores, rows = updated.search(queries, 10)
    truth = exact_top(new, queries, 10)
    fresh = recall_at_k(HnswIndex.build(new, PARAMS).search(queries, 10)[1], truth)
    assert recall_at_k(rows, truth) >= min(0.95, fresh - 0.01)
    assert rows.min() >= 0 and rows.max() < len(new)
    # ids are rows of the new set: each score is the query against that row's vector
    np.testing.assert_allclose(scores, np.einsum("qd,qkd->qk", queries, new[rows]), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(updated.vectors([3, 0, len(new) - 1]), new[[3, 0, len(new) - 1]])


def test_the_previous_index_is_left_as_it_was(edit: tuple) -> None:
    index, old, new = edit
    queries = unit_vectors(50, seed=24)
    before = index.search(queries, 10)[1]
    index.updated(new, PARAMS)
    np.testing.assert_array_equal(index.search(queries, 10)[1], before)
    assert len(index) == len(old) and index.tombstones == 0


def test_scoped_search_on_an_updated_graph_returns_only_allowed_rows(edit: tuple) -> None:
    index, _, new = edit
    updated, _ = index.updated(new, PARAMS)
    queries = unit_vectors(40, seed=25)
    rng = np.random.default_rng(26)
    for size in (300, 6_000):  # exact within the scope; through the graph with a selector
        allowed = np.sort(rng.choice(len(new), size, replace=False))
        _, rows = updated.search(queries, 10, allowed=allowed)
        assert np.isin(rows, allowed).all()
        truth = allowed[exact_top(new[allowed], queries, 10)]
        assert recall_at_k(rows, truth) >= 0.95


def test_save_load_keeps_the_row_map_and_the_results(edit: tuple, tmp_path: Path) -> None:
    index, _, new = edit
    updated, _ = index.updated(new, PARAMS)
    updated.save(tmp_path / "i.faiss")
    loaded = HnswIndex.load(tmp_path / "i.faiss", PARAMS)
    queries = unit_vectors(50, seed=27)
    for a, b in zip(updated.search(queries, 10), loaded.search(queries, 10), strict=True):
        np.testing.assert_array_equal(a, b)
    assert loaded.tombstones == updated.tombstones


def test_updates_chain_and_a_graph_full_of_tombstones_is_rebuilt(edit: tuple) -> None:
    index, _, new = edit
    once, _ = index.updated(new, PARAMS)
    fewer = new[: len(new) - 1_000]
    twice, reused = once.updated(fewer, PARAMS)  # a loaded-then-updated graph updated again
    assert reused and twice.tombstones == 1_600
    queries = unit_vectors(50, seed=28)
    assert recall_at_k(twice.search(queries, 10)[1], exact_top(fewer, queries, 10)) >= 0.95
    half, reused = twice.updated(fewer[: len(fewer) // 2], PARAMS)
    assert not reused and half.tombstones == 0  # more than MAX_DEAD_SHARE dead: compacted by a rebuild


def test_unchanged_vectors_keep_the_graph_as_it_is_and_other_parameters_rebuild(edit: tuple) -> None:
    index, old, _ = edit
    same, reused = index.updated(old, PARAMS)
    assert reused and same.tombstones == 0 and same._rows is None  # node i is still row i
    _, reused = index.updated(old, HnswParams(m=8, ef_construction=100, ef_search=128))
    assert not reused
    _, reused = index.updated(old[: hnsw.INCREMENTAL_FROM - 1], PARAMS)
    assert not reused  # small: a rebuild is cheap and equals a fresh ingest's graph


def test_a_reingest_updates_the_graph_and_searches_like_a_fresh_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hnsw, "INCREMENTAL_FROM", 0)  # the bundled notes are far below the real bound
    notes = tmp_path / "notes"
    shutil.copytree(NOTES, notes)
    store, embedder = IndexStore(tmp_path / "index"), HashEmbedder()
    run_ingest(notes, store, embedder, IngestConfig())
    first = sorted(p for p in notes.iterdir() if p.suffix in {".md", ".txt"})[0]
    first.write_text(first.read_text() + "\n\n## Added\n\nThe zebra gradient trick halves warm-up time.\n")
    report = run_ingest(notes, store, embedder, IngestConfig())
    assert report.graph_updated and report.chunks_embedded > 0
    updated = store.load()
    fresh_store = IndexStore(tmp_path / "fresh")
    run_ingest(notes, fresh_store, embedder, IngestConfig())
    fresh = fresh_store.load()
    assert [c.text for c in updated.chunks] == [c.text for c in fresh.chunks]
    assert updated.index.tombstones > 0 and fresh.index.tombstones == 0
    queries = embedder.embed([c.text for c in fresh.chunks[::7]] + ["zebra gradient trick"])
    assert np.array_equal(updated.index.search(queries, 1)[1], fresh.index.search(queries, 1)[1])
