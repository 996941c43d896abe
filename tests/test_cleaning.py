from __future__ import annotations

from ingest.cleaning import clean
from tests.conftest import note


def test_page_scrape_chrome_is_removed_and_line_numbers_kept() -> None:
    raw = note("000")
    doc = clean("000.txt", raw)
    text = "\n".join(doc.lines)
    assert doc.scraped
    for chrome in ("Skip to content", "Latest commit", "File metadata and controls", "530 lines (347 loc)"):
        assert chrome not in text
    assert len(doc.lines) == len(raw.rstrip("\n").split("\n"))
    first = next(i for i, line in enumerate(doc.lines) if line.strip())
    assert doc.lines[first] == "How do we form a confidence interval?"
    assert raw.split("\n")[first] == doc.lines[first]


def test_markdown_note_is_untouched_and_not_a_scrape() -> None:
    raw = note("001")
    doc = clean("001.md", raw)
    assert not doc.scraped
    assert doc.format == "markdown"
    assert list(doc.lines) == raw.split("\n")[: len(doc.lines)]
    assert len(doc.lines) >= len(raw.rstrip("\n").split("\n"))


def test_toml_front_matter_becomes_metadata() -> None:
    doc = clean("004.md", note("004"))
    assert doc.metadata["title"] == "AI"
    assert doc.metadata["date"].startswith("2024-05-18")
    assert not any(line.strip() in ("+++", "draft = true") for line in doc.lines)
    assert doc.format == "markdown"


def test_yaml_front_matter_becomes_metadata() -> None:
    doc = clean("y.md", "---\ntitle: Hello\ntags: [a, b]\n---\n# Heading\n\nBody text here.\n")
    assert doc.metadata == {"title": "Hello", "tags": "a, b"}
    assert doc.lines[:4] == ("", "", "", "")
    assert doc.lines[4] == "# Heading"


def test_flashcard_export_banner_and_trailer_are_removed() -> None:
    doc = clean("003.txt", note("003"))
    text = "\n".join(doc.lines)
    assert doc.format == "flashcards"
    assert "Quizwiz" not in text
    assert "View Set" not in text and "Ensembles d'études connexes" not in text
    assert "Primavera Biology" not in text
    assert doc.title.startswith("Generative AI 1")
    assert "What does MRKL stand for" in text


def test_dated_blog_is_plaintext() -> None:
    doc = clean("002.txt", note("002"))
    assert doc.format == "plaintext"
    assert not doc.scraped
    assert doc.lines[0] == "Friday, November 29, 2024"


def test_a_single_filename_line_is_not_mistaken_for_page_chrome() -> None:
    doc = clean("x.txt", "notes.md\n\nSome real content about vectors.\n")
    assert not doc.scraped
    assert doc.lines[0] == "notes.md"
