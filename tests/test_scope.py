"""Scoped questions: folder, file glob, tag and date filters, applied inside retrieval, through every edge."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from index.build import IngestConfig, run_ingest
from index.scope import NothingInScope, Scope
from index.store import IndexStore
from ingest.types import Chunk, Location
from service.api.app import create_app
from service.backends.settings import Settings
from service.pipeline.answering import Answerer
from service.pipeline.retriever import Retriever
from tests.conftest import REPO
from tests.fakes import ALWAYS_ANSWER, HashEmbedder, ScriptedGenerator

POOLING = "Pooling layers shrink feature maps: max pooling keeps the largest value of each window."


def write_vault(root: Path) -> Path:
    """Folders, YAML and TOML front matter, inline #tags, a dated journal note, and many notes outside every scope
    that match the test question better than the notes inside it."""
    files = {
        "ml/vision/cnn.md": "---\ntags: [ml, vision]\ndate: 2024-01-10\n---\n# CNNs\n\n" + POOLING + "\n",
        "ml/nlp.md": '+++\ntags = ["ml/nlp"]\ndate = 2023-05-01\n+++\n# NLP\n\nAttention weighs the tokens of a '
        "sentence; pooling of token vectors gives a sentence vector.\n",
        "interview/questions.md": "# Interview prep #interview\n\n## Pooling\n\nExplain pooling: the interviewer "
        "wants max pooling and average pooling compared.\n\n## Recall\n\nRecall = TP/(TP+FN).\n",
        "journal/day.md": "# Monday\n\nRead about pooling layers in feature maps today.\n",
    }
    for i in range(30):  # distinct notes (a unique word in every 3-gram), each full of the question's words
        u = [f"u{i}x{j}" for j in range(6)]
        files[f"other/filler-{i:02d}.md"] = (
            f"# Filler {i}\n\nmax pooling {u[0]} feature maps {u[1]} max pooling {u[2]} feature maps {u[3]} "
            f"pooling does {u[4]} maps do {u[5]}\n"
        )
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    day = datetime(2025, 2, 1, 12, tzinfo=UTC).timestamp()
    os.utime(root / "journal/day.md", (day, day))
    return root


@pytest.fixture
def vault_index(tmp_path: Path) -> tuple[IndexStore, HashEmbedder]:
    store, embedder = IndexStore(tmp_path / "index"), HashEmbedder()
    run_ingest(write_vault(tmp_path / "vault"), store, embedder, IngestConfig())
    return store, embedder


def chunk(file: str, tags: tuple[str, ...] = (), day: str = "", also_in: tuple[Location, ...] = ()) -> Chunk:
    return Chunk(file, "H", 1, 2, "text", also_in=also_in, tags=tags, date=day)


def test_scope_matches_folder_file_tag_and_date() -> None:
    assert Scope(folder="ml").matches(chunk("ml/vision/cnn.md"))
    assert not Scope(folder="ml").matches(chunk("mlops/x.md"))  # a folder, not a name prefix
    assert Scope(folder="/ml/vision/").matches(chunk("ml/vision/cnn.md"))
    assert Scope(file="*interview*").matches(chunk("notes/interview-prep.md"))
    assert Scope(file="cnn.md").matches(chunk("ml/vision/cnn.md"))  # a bare name matches in any folder
    assert not Scope(file="ml/*.txt").matches(chunk("ml/a.md"))
    assert Scope(file="*Interview*").matches(chunk("Notes/interview-prep.md"))  # case is ignored, as in a search box
    assert Scope(folder="ML").matches(chunk("ml/vision/cnn.md"))
    assert Scope(tag="#ML").matches(chunk("a.md", ("ml/vision",)))  # nested tags are in their parent's scope
    assert not Scope(tag="ml").matches(chunk("a.md", ("mlops",)))
    assert Scope(since=date(2024, 1, 1)).matches(chunk("a.md", day="2024-01-10"))
    assert not Scope(until=date(2024, 1, 1)).matches(chunk("a.md", day="2024-01-10"))
    assert not Scope(since=date(2024, 1, 1)).matches(chunk("a.md"))  # no date: not in a date scope
    copy = Location("ml/copy.md", "H", 1, 2)
    assert Scope(folder="ml").matches(chunk("elsewhere/a.md", also_in=(copy,)))  # any copy of the passage
    assert Scope(folder="ml", tag="vision").describe() == "folder ml/, tag #vision"
    for bad in ({"folder": "../etc"}, {"since": date(2024, 2, 1), "until": date(2024, 1, 1)}):
        with pytest.raises(ValueError):
            Scope(**bad)  # type: ignore[arg-type]


def test_ingest_keeps_tags_and_dates(vault_index: tuple[IndexStore, HashEmbedder]) -> None:
    chunks = {c.file: c for c in vault_index[0].load().chunks}
    assert chunks["ml/vision/cnn.md"].tags == ("ml", "vision") and chunks["ml/vision/cnn.md"].date == "2024-01-10"
    assert chunks["ml/nlp.md"].tags == ("ml/nlp",) and chunks["ml/nlp.md"].date == "2023-05-01"
    assert chunks["interview/questions.md"].tags == ("interview",)
    assert chunks["journal/day.md"].date == "2025-02-01"  # no front matter date: the file's modification day


@pytest.mark.parametrize("mode", ["dense", "bm25", "hybrid"])
def test_a_scoped_search_gets_k_passages_from_the_scope(
    vault_index: tuple[IndexStore, HashEmbedder], mode: str
) -> None:
    store, embedder = vault_index
    retriever = Retriever(store, embedder, mode)  # type: ignore[arg-type]
    question = "What does max pooling do to feature maps?"
    unscoped = retriever.retrieve(question, 3)
    assert all(h.chunk.file.startswith("other/") for h in unscoped)  # the scope's notes are not in the plain top 3
    for scope in (Scope(folder="ml"), Scope(tag="ml"), Scope(since=date(2024, 1, 1), until=date(2025, 12, 31))):
        in_scope = [c for c in store.load().chunks if scope.matches(c)]
        hits = retriever.retrieve(question, 3, scope)
        assert len(hits) == min(3, len(in_scope)) >= 2, scope
        assert all(scope.matches(h.chunk) for h in hits)
        assert [h.rank for h in hits] == list(range(1, len(hits) + 1))
    with pytest.raises(NothingInScope, match="tag #nosuch"):
        retriever.retrieve(question, 3, Scope(tag="nosuch"))


def test_a_versions_scope_rows_are_found_once_and_kept_bounded(
    vault_index: tuple[IndexStore, HashEmbedder], monkeypatch: pytest.MonkeyPatch
) -> None:
    import index.store

    store, _ = vault_index
    snapshot = store.load()
    scans: list[Scope] = []
    real = index.store.allowed_rows
    monkeypatch.setattr(index.store, "allowed_rows", lambda chunks, scope: scans.append(scope) or real(chunks, scope))
    first = snapshot.rows_in(Scope(folder="ml"))
    assert snapshot.rows_in(Scope(folder="ml")) is first and scans == [Scope(folder="ml")]  # the check, then the search
    monkeypatch.setattr(index.store, "SCOPES_REMEMBERED", 2)
    for tag in ("ml", "vision", "ml"):
        snapshot.rows_in(Scope(tag=tag))
    assert len(snapshot._scoped) == 2 and Scope(folder="ml") not in snapshot._scoped  # the oldest went first


@pytest.fixture
def client(vault_index: tuple[IndexStore, HashEmbedder], tmp_path: Path):  # type: ignore[no-untyped-def]
    store, embedder = vault_index
    qa = Answerer(
        Retriever(store, embedder), ScriptedGenerator("Pooling keeps the largest value [1]."), 3, ALWAYS_ANSWER
    )
    with TestClient(base_url="http://localhost", app=create_app(Settings(data_dir=tmp_path), answerer=qa)) as c:
        yield c


def test_http_edges_answer_only_from_the_scope(client: TestClient) -> None:
    question = "What does max pooling do to feature maps?"
    found = client.post("/search", json={"question": question, "scope": {"tag": "interview"}}).json()["hits"]
    assert found and {h["file"] for h in found} == {"interview/questions.md"}
    asked = client.post("/ask", json={"question": question, "scope": {"folder": "ml"}}).json()
    assert asked["citations"] and all(c["file"].startswith("ml/") for c in asked["citations"])
    assert all(e["file"].startswith("ml/") for e in asked["evidence"])
    with client.stream("POST", "/ask/stream", json={"question": question, "scope": {"file": "*questions*"}}) as r:
        events = [json.loads(line[5:]) for line in r.iter_lines() if line.startswith("data:")]
    assert {e["file"] for e in events[0]["evidence"]} == {"interview/questions.md"}
    chat = client.post(
        "/v1/chat/completions",
        json={"model": "notes-qa", "messages": [{"role": "user", "content": question}], "scope": {"tag": "vision"}},
    ).json()
    assert chat["citations"] and {c["file"] for c in chat["citations"]} == {"ml/vision/cnn.md"}


def test_a_scope_without_notes_says_so(client: TestClient) -> None:
    body = {"question": "What is pooling?", "scope": {"tag": "nosuch", "folder": "ml"}}
    for route in ("/search", "/ask", "/ask/stream"):
        r = client.post(route, json=body)
        assert r.status_code == 404 and r.json()["detail"] == "No notes match the scope (folder ml/, tag #nosuch).", (
            route
        )
    chat = client.post(
        "/v1/chat/completions",
        json={
            "model": "notes-qa",
            "messages": [{"role": "user", "content": "What is pooling?"}],
            "scope": {"tag": "x"},
        },
    )
    assert chat.status_code == 404 and chat.json()["error"]["code"] == "nothing_in_scope"
    bad = client.post(
        "/ask", json={"question": "What is pooling?", "scope": {"since": "2024-02-01", "until": "2024-01-01"}}
    )
    assert bad.status_code == 422 and "since is after until" in bad.text
    unknown = client.post("/ask", json={"question": "What is pooling?", "scope": {"colour": "red"}})
    assert unknown.status_code == 422


@pytest.mark.slow
def test_cli_scope_with_the_real_models(tmp_path: Path) -> None:
    vault = write_vault(tmp_path / "vault")
    env = {**os.environ, "NOTES_QA_DATA_DIR": str(tmp_path / "data"), "NOTES_QA_NOTES_DIR": str(vault),
           "NOTES_QA_MODEL_CACHE_PATH": str(REPO / ".notes-qa" / "models")}  # fmt: skip

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "service.api.cli", *args]
        return subprocess.run(command, capture_output=True, text=True, cwd=REPO, env=env, timeout=600)

    assert cli("ingest", "--quiet").returncode == 0
    searched = cli("search", "What does max pooling do?", "--tag", "interview")
    assert searched.returncode == 0, searched.stderr
    listed = [line for line in searched.stdout.splitlines() if line[:3].strip().rstrip(".").isdigit()]
    assert listed and all("interview/questions.md" in line for line in listed)
    asked = cli("ask", "What does max pooling do?", "--folder", "ml/vision")
    assert asked.returncode == 0, asked.stderr
    cited = [line for line in asked.stdout.splitlines() if line.startswith("[")]
    assert all("ml/vision/cnn.md" in line for line in cited)
    empty = cli("ask", "What does max pooling do?", "--tag", "nosuch")
    assert empty.returncode == 2 and empty.stderr.strip() == "error: No notes match the scope (tag #nosuch)."
    bad = cli("search", "What is pooling?", "--since", "yesterday")
    assert bad.returncode == 2 and "expected a date YYYY-MM-DD" in bad.stderr
