"""A generated Obsidian-style vault — folders, tags, wikilinks, embeds, YAML and TOML front matter, an org note, a
PDF and an HTML export — ingests with the expected chunks, headings, metadata and locators, and every citation's
quote is exactly the cited lines (or page) of its source."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest
from fastapi.testclient import TestClient

from index.build import IngestConfig, run_ingest
from index.store import IndexStore
from ingest.cleaning import clean
from ingest.pdf_notes import pdf_to_text
from ingest.reading import read_note
from service.api.app import create_app
from service.backends.settings import Settings
from service.pipeline.answering import Answerer
from service.pipeline.retriever import Retriever
from tests.fakes import ALWAYS_ANSWER, HashEmbedder, ScriptedGenerator
from tests.test_cleaning import EXPORTED_PAGE


def make_pdf(path: Path, pages: list[list[str]]) -> None:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("helvetica", size=12)
    for lines in pages:
        pdf.add_page()
        for line in lines:
            pdf.cell(0, 10, line, new_x="LMARGIN", new_y="NEXT")
    pdf.output(str(path))


def make_vault(root: Path) -> Path:
    (root / ".obsidian").mkdir(parents=True)
    (root / ".obsidian" / "workspace.json").write_text('{"not": "a note"}')
    files = {
        "ml/attention.md": "---\ntags: [ml, nlp]\ndate: 2024-02-03\naliases: [attn]\n---\n# Attention\n\n"
        "Self-attention relates tokens, see [[Transformers#Encoder|the encoder note]].\n\n![[diagram.png]]\n",
        "ml/transformers.md": '+++\ntitle = "Transformers"\ntags = ["ml"]\n+++\n# Encoder\n\nThe encoder stacks '
        "self-attention and feed-forward layers #architecture\n",
        "journal/2024-05-01.md": "tags:: journal, interview\n\n# Mock interview\n\nAsked about [[Recall]] today.\n",
        "emacs/prep.org": "#+TITLE: Prep\n* Metrics :interview:\nRecall = TP/(TP+FN).\n",
        "export/page.html": EXPORTED_PAGE,
    }
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")
    (root / "papers").mkdir()
    pages = [
        ["Scaling laws", "Loss falls as a power law of compute."],
        ["Chinchilla", "Train on about 20 tokens per parameter."],
    ]
    make_pdf(root / "papers" / "scaling.pdf", pages)
    return root


@pytest.fixture
def vault(tmp_path: Path) -> tuple[Path, IndexStore, HashEmbedder]:
    root = make_vault(tmp_path / "Vault")
    store, embedder = IndexStore(tmp_path / "index"), HashEmbedder()
    report = run_ingest(root, store, embedder, IngestConfig())
    assert {f.path for f in report.files if f.status == "indexed"} == {
        "ml/attention.md", "ml/transformers.md", "journal/2024-05-01.md", "emacs/prep.org", "export/page.html",
        "papers/scaling.pdf",
    }  # fmt: skip
    return root, store, embedder


def source_lines(root: Path, file: str) -> tuple[str, ...]:
    """The note's lines after cleaning (for a PDF or an HTML export: its extracted text), as chunks cite them."""
    note = read_note(root, root / file, 5_000_000)
    return clean(note.path, note.text, note.modified).lines


def test_chunks_headings_metadata_and_locators(vault: tuple[Path, IndexStore, HashEmbedder]) -> None:
    root, store, _ = vault
    chunks = store.load().chunks
    by_file = {c.file: c for c in chunks}
    attention = by_file["ml/attention.md"]
    assert attention.tags == ("ml", "nlp") and attention.date == "2024-02-03" and attention.heading == "Attention"
    assert "the encoder note" in attention.text and "[[" not in attention.text and "diagram.png" not in attention.text
    # an alias is found by keyword search (it is in no line of the note), without entering the embedded passage
    assert attention.aliases == ("attn",) and "attn" not in attention.passage().lower()
    _, rows = store.load().bm25.search("attn", 3)
    assert [chunks[int(r)].file for r in rows] == ["ml/attention.md"]
    assert by_file["ml/transformers.md"].tags == ("ml", "architecture")
    assert by_file["journal/2024-05-01.md"].tags == ("journal", "interview")
    assert "Recall" in by_file["journal/2024-05-01.md"].text
    assert by_file["emacs/prep.org"].heading == "Prep › Metrics" and by_file["emacs/prep.org"].tags == ("interview",)
    pdf = sorted((c for c in chunks if c.file == "papers/scaling.pdf"), key=lambda c: c.start_line)
    assert [c.heading.rsplit(" › ", 1)[-1] for c in pdf] == ["Page 1", "Page 2"]
    assert "20 tokens per parameter" in pdf[1].text
    html = by_file["export/page.html"]
    assert (
        html.heading.startswith("Interview prep › Metrics")
        and "Recall is TP/(TP+FN)" in html.text
        and "Copyright" not in html.text
    )
    for c in chunks:  # every passage is exactly its lines of the (cleaned or extracted) source
        lines = source_lines(root, c.file)
        assert c.text.strip() == "\n".join(lines[c.start_line - 1 : c.end_line]).strip(), c.id


def test_pdf_pages_come_out_in_order_and_a_scan_is_skipped(tmp_path: Path) -> None:
    make_pdf(tmp_path / "a.pdf", [["one"], [], ["three"]])
    assert pdf_to_text((tmp_path / "a.pdf").read_bytes()) == "## Page 1\n\none\n\n## Page 3\n\nthree\n"
    make_pdf(tmp_path / "scan.pdf", [[]])
    (tmp_path / "broken.pdf").write_bytes(b"%PDF-1.4 not really")
    report = run_ingest(tmp_path, IndexStore(tmp_path / "index"), HashEmbedder(), IngestConfig())
    reasons = {f.path: f.reason for f in report.files if f.status == "skipped"}
    assert "without a text layer" in reasons["scan.pdf"] and reasons.keys() >= {"broken.pdf"}


@pytest.mark.parametrize(
    ("question", "reply", "file", "locator"),
    [
        ("How many tokens per parameter should I train on?", "About 20 tokens per parameter [1].",
         "papers/scaling.pdf", "page=2"),
        ("What does self-attention relate?", "Self-attention relates tokens [1].", "ml/attention.md", "L"),
        ("What is the recall formula?", "Recall = TP/(TP+FN) [1].", None, None),
    ],
)  # fmt: skip
def test_citations_quote_their_source_and_link_to_it(
    vault: tuple[Path, IndexStore, HashEmbedder], tmp_path: Path, question: str, reply: str, file: str | None,
    locator: str | None,
) -> None:  # fmt: skip
    root, store, embedder = vault
    qa = Answerer(Retriever(store, embedder), ScriptedGenerator(reply), 4, ALWAYS_ANSWER)
    with TestClient(base_url="http://localhost", app=create_app(Settings(data_dir=tmp_path), answerer=qa)) as c:
        body = c.post("/ask", json={"question": question}).json()
    assert body["citations"], body
    for cited in body["citations"]:
        lines = source_lines(root, cited["file"])
        a, b = cited["quote_lines"]
        assert cited["quote"].strip() == "\n".join(lines[a - 1 : b]).strip()
        uri = urlparse(cited["uri"])
        assert Path(unquote(uri.path)) == (root / cited["file"]).resolve()
        assert cited["obsidian_uri"].startswith("obsidian://open?vault=Vault&file=")
    if file:
        assert body["citations"][0]["file"] == file
        assert urlparse(body["citations"][0]["uri"]).fragment.startswith(locator)
