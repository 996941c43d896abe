from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from index.build import IngestConfig, run_ingest
from index.store import IndexStore
from ingest.pipeline import IngestError
from tests.fakes import HashEmbedder


def ingest(folder: Path, store: IndexStore, embedder: HashEmbedder | None = None):  # type: ignore[no-untyped-def]
    return run_ingest(folder, store, embedder or HashEmbedder(), IngestConfig())


def test_rerun_without_changes_embeds_nothing_and_keeps_the_version(tmp_path: Path, notes_copy: Path) -> None:
    store = IndexStore(tmp_path / "idx")
    first = ingest(notes_copy, store)
    assert first.chunks_embedded == first.chunks_total > 0
    embedder = HashEmbedder()
    again = ingest(notes_copy, store, embedder)
    assert embedder.embedded == []
    assert not again.changed and again.version == first.version


def test_changing_one_file_re_embeds_only_that_file(tmp_path: Path, notes_copy: Path) -> None:
    store = IndexStore(tmp_path / "idx")
    ingest(notes_copy, store)
    target = next(notes_copy.glob("004*"))
    target.write_text(target.read_text() + "\n\n## New section\n\nSpeculative decoding drafts tokens cheaply.\n")
    embedder = HashEmbedder()
    report = ingest(notes_copy, store, embedder)
    embedded_files = {f.path for f in report.files if f.embedded}
    assert embedded_files == {target.name}
    snapshot = store.load()
    changed = [c for c in snapshot.file_cache()[0] if c.file == target.name]
    passages = [c.passage() for c in changed]
    units = list(dict.fromkeys(u.display() for c in changed for u in c.units))  # each distinct unit once
    assert len(changed) == next(f.n_chunks for f in report.files if f.path == target.name)
    assert embedder.embedded == passages + units  # that file's passages, then its answer units, nothing else
    assert any("Speculative decoding" in c.text for c in snapshot.chunks)
    # the other files' units kept their vectors: each served unit's stored vector is its text's
    fresh = HashEmbedder()
    for row in range(len(snapshot.chunks)):
        stored, vectors = snapshot.units_of(row)
        np.testing.assert_allclose(vectors, fresh.embed([u.display() for u in stored]), atol=1e-6)


def test_unchanged_files_are_not_cleaned_again_and_the_result_equals_a_fresh_ingest(
    tmp_path: Path, notes_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ingest import pipeline

    store = IndexStore(tmp_path / "idx")
    ingest(notes_copy, store)
    target = next(notes_copy.glob("004*"))
    target.write_text(target.read_text() + "\n\n## New section\n\nSpeculative decoding drafts tokens cheaply.\n")
    cleaned: list[str] = []
    real_clean = pipeline.clean
    monkeypatch.setattr(pipeline, "clean", lambda path, *a: cleaned.append(path) or real_clean(path, *a))
    ingest(notes_copy, store)
    assert cleaned == [target.name]  # only the changed note is cleaned and chunked again
    monkeypatch.undo()
    fresh = IndexStore(tmp_path / "fresh")
    ingest(notes_copy, fresh)
    # the page scrape's flag was remembered, so near-copies collapse to the same keepers as in a fresh ingest
    assert store.load().files["000_a9eb03580335b364.txt"].scraped
    assert [(c.file, c.text, c.also_in) for c in store.load().chunks] == [
        (c.file, c.text, c.also_in) for c in fresh.load().chunks
    ]


def test_deleted_file_disappears_from_the_index(tmp_path: Path, notes_copy: Path) -> None:
    store = IndexStore(tmp_path / "idx")
    ingest(notes_copy, store)
    gone = next(notes_copy.glob("002*"))
    gone.unlink()
    ingest(notes_copy, store)
    assert all(c.file != gone.name for c in store.load().chunks)


def test_report_skips_bad_files_with_reasons(tmp_path: Path) -> None:
    folder = tmp_path / "n"
    (folder / "sub").mkdir(parents=True)
    (folder / "good.md").write_text("# Good\n\nReal content about attention heads.\n")
    (folder / "sub" / "nested.txt").write_text("Nested note about dropout regularisation.\n")
    (folder / "empty.md").write_text("  \n\n")
    (folder / "binary.txt").write_bytes(b"\x00\x01\x02 data")
    (folder / "latin1.txt").write_bytes("caf\xe9 notes".encode("latin-1"))
    (folder / "big.md").write_text("x" * 200)
    (folder / "image.png").write_bytes(b"\x89PNG")
    report = run_ingest(folder, IndexStore(tmp_path / "idx"), HashEmbedder(), IngestConfig(max_file_bytes=150))
    by_path = {f.path: f for f in report.files}
    assert by_path["good.md"].status == "indexed" and by_path["sub/nested.txt"].status == "indexed"
    assert by_path["empty.md"].reason == "empty"
    assert by_path["binary.txt"].reason.startswith("binary")
    assert by_path["latin1.txt"].status == "indexed" and by_path["latin1.txt"].encoding == "cp1252"  # read, not lost
    assert by_path["big.md"].reason.startswith("too large")
    assert "image.png" not in by_path
    assert (tmp_path / "idx" / "last-ingest-report.json").exists()


def test_failed_ingest_keeps_the_previous_index(tmp_path: Path, notes_copy: Path) -> None:
    store = IndexStore(tmp_path / "idx")
    first = ingest(notes_copy, store)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(IngestError, match="no indexable notes"):
        ingest(empty, store)
    with pytest.raises(IngestError, match="not found"):
        ingest(tmp_path / "missing", store)

    class Exploding(HashEmbedder):
        def embed(self, texts, progress=False):  # type: ignore[no-untyped-def]
            raise RuntimeError("embedder crashed")

    (notes_copy / "new.md").write_text("# New\n\nSomething new to embed.\n")
    with pytest.raises(RuntimeError, match="embedder crashed"):
        run_ingest(notes_copy, store, Exploding(), IngestConfig())
    assert store.load().manifest.version == first.version


def test_sigkill_mid_ingest_leaves_previous_index_loadable(tmp_path: Path, notes_copy: Path) -> None:
    """A child process is killed with SIGKILL while writing the new version; the old one still loads."""
    import multiprocessing
    import signal
    import time

    store = IndexStore(tmp_path / "idx")
    first = ingest(notes_copy, store)
    (notes_copy / "extra.md").write_text("# Extra\n\nA changed corpus.\n")
    ctx = multiprocessing.get_context("spawn")  # fork + OpenMP (faiss) can deadlock
    child = ctx.Process(target=_slow_ingest, args=(notes_copy, tmp_path / "idx"))
    child.start()
    deadline = time.time() + 30
    versions = tmp_path / "idx" / "versions"
    while time.time() < deadline and not any(p.name.startswith(".tmp-") for p in versions.iterdir()):
        time.sleep(0.01)
    assert any(p.name.startswith(".tmp-") for p in versions.iterdir()), "child never started writing"
    os.kill(child.pid, signal.SIGKILL)
    child.join()
    assert store.load().manifest.version == first.version


def _slow_ingest(folder: Path, root: Path) -> None:
    import time

    import index.store as store_module

    original = store_module.write_chunks

    def slow_write(path, chunks):  # type: ignore[no-untyped-def]
        original(path, chunks)
        time.sleep(60)  # killed here, mid-write

    store_module.write_chunks = slow_write
    run_ingest(folder, IndexStore(root), HashEmbedder(), IngestConfig())
