"""Live re-index: `notes-qa serve --watch` serves a saved note within seconds, and forgets a deleted one."""

from __future__ import annotations

import os
import shutil
import threading
import time
from pathlib import Path

import httpx
import pytest

from eval.load import running_server, wait_ready
from index.store import IndexStore
from service.backends.settings import Settings
from service.backends.watching import note_filter, watch_notes
from tests.conftest import REPO

SECRET = "The staging passphrase for the lab cluster is PLUM-7731."
QUESTION = "What is the staging passphrase for the lab cluster?"
MODELS = REPO / ".notes-qa" / "models"


def test_only_note_changes_count(tmp_path: Path) -> None:
    relevant = note_filter(tmp_path)
    assert relevant(None, str(tmp_path / "ml" / "a.md")) and relevant(None, str(tmp_path / "b.TXT"))
    assert relevant(None, str(tmp_path / "old-folder"))  # a deleted or moved folder takes its notes along
    assert not relevant(None, str(tmp_path / ".obsidian" / "workspace.json"))
    assert not relevant(None, str(tmp_path / "ml" / ".a.md.swp"))
    assert not relevant(None, str(tmp_path / "picture.png"))
    assert not relevant(None, "/elsewhere/a.md")


def files_served(store: IndexStore) -> set[str]:
    return {c.file for c in store.load().chunks} if store.exists() else set()


def wait_for(condition, timeout_s: float) -> float:  # type: ignore[no-untyped-def]
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < timeout_s, f"not within {timeout_s} s"
        time.sleep(0.05)
    return time.monotonic() - started


@pytest.mark.slow
def test_watch_indexes_saves_and_deletions(tmp_path: Path, small_notes: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", model_cache_path=MODELS)
    store = IndexStore(settings.index_dir)
    stop = threading.Event()
    lines: list[str] = []
    watcher = threading.Thread(target=watch_notes, args=(settings, small_notes, stop, lines.append), daemon=True)
    watcher.start()
    try:
        time.sleep(1.0)  # the watcher is up (it warms the embedder first)
        (small_notes / "lab.md").write_text(f"# Lab\n\n{SECRET}\n")
        assert wait_for(lambda: "lab.md" in files_served(store), 5.0) <= 5.0
        assert files_served(store) >= {"lab.md", "metrics.md", "cards.txt"}
        (small_notes / "lab.md").unlink()
        wait_for(lambda: "lab.md" not in files_served(store), 5.0)
        (small_notes / ".hidden").mkdir()
        (small_notes / ".hidden" / "x.md").write_text("not a note of the vault")
        time.sleep(1.0)
        assert not any("x.md" in f for f in files_served(store))
    finally:
        stop.set()
        watcher.join(timeout=10)
    assert any("new version" in line for line in lines), lines


@pytest.mark.slow
def test_serve_watch_answers_from_a_note_saved_while_it_runs(tmp_path: Path) -> None:
    notes = tmp_path / "notes"
    shutil.copytree(REPO / "notes", notes)
    env = {"NOTES_QA_DATA_DIR": str(tmp_path / "data"), "NOTES_QA_NOTES_DIR": str(notes),
           "NOTES_QA_MODEL_CACHE_PATH": str(MODELS)}  # fmt: skip
    with running_server(tmp_path / "serve.log", env, ("--watch",)) as (base, process):
        wait_ready(base, process, time.monotonic() + 600)
        time.sleep(1.0)  # the watcher thread is watching

        def searchable() -> bool:
            hits = httpx.post(base + "/search", json={"question": QUESTION}, timeout=30).json()["hits"]
            return any("PLUM-7731" in h["text"] for h in hits)

        assert not searchable()
        (notes / "lab.md").write_text(f"# Lab cluster\n\n{SECRET}\n")
        saved = time.monotonic()
        wait_for(searchable, 5.0)
        answer = httpx.post(base + "/ask", json={"question": QUESTION}, timeout=120).json()
        seconds = time.monotonic() - saved
        assert "PLUM-7731" in answer["answer"] and {c["file"] for c in answer["citations"]} == {"lab.md"}
        assert seconds <= 5.0 + answer["timings_ms"]["total"] / 1000  # indexed within 5 s, then one answer
        os.remove(notes / "lab.md")
        wait_for(lambda: not searchable(), 5.0)
