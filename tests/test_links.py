"""Citations that open the note: a file:// URI at the quoted line, and an obsidian:// link inside an Obsidian vault."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

from fastapi.testclient import TestClient

from index.build import IngestConfig, run_ingest
from index.store import IndexStore
from service.api.app import create_app
from service.backends.settings import Settings
from service.pipeline.answering import Answerer
from service.pipeline.links import NoteLinks
from service.pipeline.retriever import Retriever
from tests.fakes import ALWAYS_ANSWER, HashEmbedder, ScriptedGenerator


def test_links_quote_paths_and_drop_the_md_suffix_for_obsidian() -> None:
    links = NoteLinks("/home/me/My Vault", "My Vault")
    assert links.file_uri("ml/a b.md", 12) == "file:///home/me/My%20Vault/ml/a%20b.md#L12"
    assert links.obsidian_uri("ml/a b.md") == "obsidian://open?vault=My%20Vault&file=ml%2Fa%20b"
    assert NoteLinks("/notes").obsidian_uri("a.md") is None
    assert NoteLinks(None).file_uri("a.md", 1) is None  # an index built before links: no link, not a wrong one


def ask(tmp_path: Path, vault: Path) -> dict:  # type: ignore[type-arg]
    store, embedder = IndexStore(tmp_path / "index"), HashEmbedder()
    run_ingest(vault, store, embedder, IngestConfig())
    qa = Answerer(Retriever(store, embedder), ScriptedGenerator("Recall is TP/(TP+FN) [1]."), 3, ALWAYS_ANSWER)
    with TestClient(base_url="http://localhost", app=create_app(Settings(data_dir=tmp_path), answerer=qa)) as c:
        body = c.post("/ask", json={"question": "What is the formula for recall?"}).json()
    assert body["citations"], body
    return body["citations"][0]  # type: ignore[no-any-return]


def test_a_citation_opens_the_quoted_line(tmp_path: Path) -> None:
    vault = tmp_path / "Study Vault"
    (vault / ".obsidian").mkdir(parents=True)
    (vault / "ml").mkdir()
    (vault / "ml" / "metrics.md").write_text("# Metrics\n\nSome intro.\n\nRecall = TP/(TP+FN).\n")
    cited = ask(tmp_path, vault)
    uri = urlparse(cited["uri"])
    path, line = Path(unquote(uri.path)), int(uri.fragment.removeprefix("L"))
    assert path == (vault / "ml" / "metrics.md").resolve() and line == cited["quote_lines"][0]
    assert path.read_text().splitlines()[line - 1].strip() == cited["quote"].strip().splitlines()[0].strip()
    obsidian = urlparse(cited["obsidian_uri"])
    assert obsidian.scheme == "obsidian" and parse_qs(obsidian.query) == {
        "vault": ["Study Vault"],
        "file": ["ml/metrics"],
    }


def test_no_obsidian_link_outside_a_vault(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "metrics.md").write_text("# Metrics\n\nRecall = TP/(TP+FN).\n")
    cited = ask(tmp_path, plain)
    assert cited["uri"].startswith("file://") and cited["obsidian_uri"] is None
