"""Index versions are immutable: calibrate adds a version, writers take turns, readers keep serving."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from index.build import IngestConfig, run_ingest
from index.store import IndexBusy, IndexStore
from service.pipeline.retriever import Retriever
from tests.fakes import ALWAYS_ANSWER


def test_storing_an_answerability_model_adds_a_version_and_leaves_the_served_one_untouched(small_index) -> None:  # type: ignore[no-untyped-def]
    store, embedder = small_index
    old = store.current_version()
    old_manifest = (store.root / "versions" / old / "manifest.json").read_text()
    new = store.set_models(ALWAYS_ANSWER.to_dict())
    assert new != old and store.current_version() == new
    assert (store.root / "versions" / old / "manifest.json").read_text() == old_manifest
    loaded = store.load()
    assert loaded.manifest.answerability == ALWAYS_ANSWER.to_dict() and loaded.manifest.version == new
    assert loaded.manifest.fingerprint == json.loads(old_manifest)["fingerprint"]
    assert len(loaded.chunks) == len(Retriever(store, embedder).snapshot().chunks)
    # the data files are shared with the old version, not copied
    assert (store.root / "versions" / new / "hnsw.faiss").stat().st_ino == (
        store.root / "versions" / old / "hnsw.faiss"
    ).stat().st_ino


def test_a_second_writer_is_refused_while_one_runs(small_index, small_notes) -> None:  # type: ignore[no-untyped-def]
    store, embedder = small_index
    with store.writer():
        with pytest.raises(IndexBusy, match="another ingest or calibrate is writing"):
            run_ingest(small_notes, store, embedder, IngestConfig())
        with pytest.raises(IndexBusy):
            store.set_models(ALWAYS_ANSWER.to_dict())
    store.set_models(ALWAYS_ANSWER.to_dict())  # free again


def test_a_running_retriever_follows_new_versions_and_survives_a_broken_one(small_index, small_notes) -> None:  # type: ignore[no-untyped-def]
    store, embedder = small_index
    retriever = Retriever(store, embedder)
    first = retriever.manifest.version
    (small_notes / "extra.md").write_text("# Extra\n\nThe zebrafish is named Wanda.\n")
    run_ingest(small_notes, store, embedder, IngestConfig())
    second = retriever.manifest.version
    assert second != first
    assert "Wanda" in retriever.retrieve("zebrafish named", 1)[0].chunk.text
    # a version whose files are damaged is not served: the retriever keeps the one it has
    third = store.set_models(ALWAYS_ANSWER.to_dict())
    damaged = store.root / "versions" / third / "chunks.jsonl"
    damaged.unlink()  # a hard link shared with the previous version: replace it, do not write through it
    damaged.write_text("{not json\n")
    assert retriever.manifest.version == second
    assert "Wanda" in retriever.retrieve("zebrafish named", 1)[0].chunk.text
    # a fresh process could not load it either: the failure is real, not a cache artefact
    with pytest.raises(ValueError):
        IndexStore(store.root).load()


def test_chunk_files_hold_each_chunks_fields_and_read_back_equal(tmp_path: Path) -> None:
    from dataclasses import asdict

    from index.chunk_files import read_chunks, write_chunks
    from ingest.types import Chunk, Location

    chunks = [
        Chunk("a.md", "H", 1, 3, "tëxt", (Location("b.md", "G", 2, 4),), (1, 2, 3), ("t",), "2026-01-01", ("x",)),
        Chunk("c.md", "", 1, 1, "y"),
    ]
    write_chunks(tmp_path / "chunks.jsonl", chunks)
    lines = (tmp_path / "chunks.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == [json.loads(json.dumps(asdict(c))) for c in chunks]
    assert read_chunks(tmp_path / "chunks.jsonl") == chunks
