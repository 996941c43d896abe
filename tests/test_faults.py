"""Faults on the server side: an index that cannot be read, at start or when a new version lands. Clear 503s
without server paths, the previous version served, and recovery without a restart. (A generator killed
mid-stream: tests/test_openai_backend.py; disk full during ingest: tests/test_hostile_notes.py.)"""

from __future__ import annotations

import errno
from pathlib import Path

from fastapi.testclient import TestClient

from index.build import IngestConfig, run_ingest
from index.store import IndexStore
from service.api.app import create_app
from service.backends.settings import Settings
from service.pipeline.answering import Answerer
from service.pipeline.retriever import Retriever
from tests.fakes import ALWAYS_ANSWER, HashEmbedder, ScriptedGenerator

ASK = {"question": "What is the formula for recall?"}


def unreadable(self: IndexStore, params: object = None) -> object:
    raise PermissionError(errno.EACCES, "Permission denied", str(self.root / "versions"))


def test_an_unreadable_index_at_start_is_a_clear_503_until_fixed(small_index, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    store, embedder = small_index
    real_load = IndexStore.load
    monkeypatch.setattr(IndexStore, "load", unreadable)
    monkeypatch.setattr("service.api.readiness.RETRY_S", 0.0)
    qa = Answerer(Retriever(store, embedder), ScriptedGenerator("Recall is TP/(TP+FN) [1]."), 3, ALWAYS_ANSWER)
    with TestClient(create_app(Settings(data_dir=tmp_path), answerer=qa), base_url="http://localhost") as c:
        for r in (c.get("/ready"), c.post("/ask", json=ASK), c.post("/search", json=ASK)):
            assert r.status_code == 503 and "could not be read" in r.text and str(store.root) not in r.text
        monkeypatch.setattr(IndexStore, "load", real_load)  # permissions fixed: ready without a restart
        assert c.get("/ready").status_code == 200
        assert c.post("/ask", json=ASK).json()["answer"].startswith("Recall is TP/(TP+FN)")


def test_a_new_version_that_cannot_be_read_leaves_the_old_one_served(small_notes: Path, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    store, embedder = IndexStore(tmp_path / "index"), HashEmbedder()
    first = run_ingest(small_notes, store, embedder, IngestConfig()).version
    qa = Answerer(Retriever(store, embedder), ScriptedGenerator("Recall is TP/(TP+FN) [1]."), 3, ALWAYS_ANSWER)
    with TestClient(create_app(Settings(data_dir=tmp_path), answerer=qa), base_url="http://localhost") as c:
        assert c.get("/ready").json()["index_version"] == first
        (small_notes / "new.md").write_text("# New\n\nA note that lands while the index is unreadable.\n")
        second = run_ingest(small_notes, store, embedder, IngestConfig()).version
        monkeypatch.setattr(IndexStore, "load", unreadable)
        assert c.get("/ready").json()["index_version"] == first  # still serving the loaded version
        assert c.post("/ask", json=ASK).status_code == 200
        monkeypatch.undo()
        assert second != first


class BuggyGenerator(ScriptedGenerator):
    def generate(self, prompt):  # type: ignore[no-untyped-def]
        raise RuntimeError("a bug, not the server's state")
        yield ""


def test_a_bug_is_a_500_not_a_503_that_blames_the_server_state(small_index, tmp_path) -> None:  # type: ignore[no-untyped-def]
    store, embedder = small_index
    qa = Answerer(Retriever(store, embedder), BuggyGenerator(""), 3, ALWAYS_ANSWER)
    app = create_app(Settings(data_dir=tmp_path), answerer=qa)
    with TestClient(app, base_url="http://localhost", raise_server_exceptions=False) as c:
        r = c.post("/ask", json=ASK)
        assert r.status_code == 500 and "a bug" not in r.text
        assert c.post("/search", json=ASK).status_code == 200  # and the server keeps serving
