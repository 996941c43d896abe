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


def test_org_notes_read_as_markdown_line_for_line() -> None:
    from ingest.chunking import ChunkingConfig, chunk_document

    text = (
        "#+TITLE: Interview prep\n#+FILETAGS: :interview:\n#+DATE: <2024-03-01 Fri>\n* TODO Metrics :ml:\n"
        ":PROPERTIES:\n:ID: 123\n:END:\nRecall = TP/(TP+FN).\n** Code\n#+BEGIN_SRC python\nprint(1)\n#+END_SRC\n"
    )
    doc = clean("prep.org", text, "2026-01-01")
    assert (doc.format, doc.tags, doc.date, doc.title) == (
        "markdown",
        ("interview", "ml"),
        "2024-03-01",
        "Interview prep",
    )
    assert len(doc.lines) == len(text.splitlines())  # line for line: spans stay true
    assert doc.lines[3] == "# Metrics" and doc.lines[7] == "Recall = TP/(TP+FN)." and doc.lines[9] == "```python"
    assert not any(":ID:" in line or "#+" in line for line in doc.lines)
    (chunk,) = chunk_document(doc, ChunkingConfig())
    assert chunk.heading == "Interview prep › Metrics" and (chunk.start_line, chunk.end_line) == (4, 12)
    assert chunk.tags == ("interview", "ml")


def test_obsidian_and_logseq_conventions_read_as_text_line_for_line() -> None:
    text = (
        "---\naliases: [Attention notes]\n---\n"
        "tags:: ml, #interview\nalias:: attn\n"
        "Self-attention, see [[Transformers#Attention|the transformer note]] and [[Seq2seq]].\n"
        "![[diagram.png]] ![a picture](img/x.png) Softmax over [[Scores#^block]].\n"
        "std::vector stays, and so does C++::x\n"
        "```\n[[not a link in code]]\n```\n"
    )
    doc = clean("attn.md", text, "2026-01-01")
    assert len(doc.lines) == len(text.splitlines())
    assert doc.lines[3] == doc.lines[4] == ""  # Logseq properties: metadata, not text
    assert doc.lines[5] == "Self-attention, see the transformer note and Seq2seq."
    assert doc.lines[6].strip() == "Softmax over Scores › block."
    assert doc.lines[7] == "std::vector stays, and so does C++::x"
    assert doc.lines[9] == "[[not a link in code]]"
    assert doc.tags == ("ml", "interview")
    assert doc.metadata["aliases"] == "Attention notes, attn"


EXPORTED_PAGE = """<!doctype html><html><head><title>Interview prep</title><style>p{color:red}</style>
<script>var tracking = "do not index me";</script></head>
<body><nav><a href="/">Home</a> <a href="/x">Other page</a></nav><header>Workspace / Interview prep</header>
<article><h1>Metrics</h1><p>Recall is <b>TP/(TP+FN)</b>, the share of positives found.</p>
<h2>Lists</h2><ul><li>Precision<ul><li>TP/(TP+FP)</li></ul></li><li>F1</li></ul>
<table><tr><th>Metric</th><th>Formula</th></tr><tr><td>Recall</td><td>TP/(TP+FN)</td></tr></table>
<pre><code>print(1)
print(2)</code></pre></article><footer>Copyright 2024 Example Corp</footer></body></html>"""


def test_html_exports_keep_headings_lists_tables_and_code_and_drop_the_chrome() -> None:
    from ingest.chunking import ChunkingConfig, chunk_document

    doc = clean("export/prep.html", EXPORTED_PAGE, "2026-01-01")
    text = "\n".join(doc.lines)
    assert doc.format == "markdown" and doc.title == "Interview prep"
    for kept in ("# Metrics", "Recall is TP/(TP+FN), the share", "## Lists", "- Precision", "  - TP/(TP+FP)",
                 "| Recall | TP/(TP+FN) |", "```\nprint(1)\nprint(2)\n```"):  # fmt: skip
        assert kept in text, kept
    for dropped in ("do not index me", "Other page", "Workspace /", "Copyright", "color:red"):
        assert dropped not in text, dropped
    chunks = chunk_document(doc, ChunkingConfig(max_chars=120, overlap_chars=0))
    assert any(c.heading == "Interview prep › Metrics › Lists" for c in chunks)
    for c in chunks:  # a chunk is exactly its lines of the (extracted) note
        assert c.text.strip() == "\n".join(doc.lines[c.start_line - 1 : c.end_line]).strip()
