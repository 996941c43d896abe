from __future__ import annotations

import re

from ingest.chunking import ChunkingConfig, chunk_document
from ingest.cleaning import clean
from ingest.dedup import collapse_near_duplicates
from tests.conftest import NOTES, note

CONFIG = ChunkingConfig()


def chunks_of(name: str, config: ChunkingConfig = CONFIG):
    return chunk_document(clean(name, note(name[:3])), config)


def test_every_flashcard_keeps_its_question_with_its_answer() -> None:
    chunks = chunks_of("003.txt", ChunkingConfig(max_chars=400, overlap_chars=100))
    raw_lines = note("003").split("\n")
    mrkl = [c for c in chunks if "MRKL stand for" in c.text]
    assert mrkl and all("Modular Reasoning, Knowledge and Language" in c.text for c in mrkl[:1])
    # A card longer than the chunk size is split, but every piece starts with the card's question.
    types = [c for c in chunks if c.heading.startswith('#basics What are the "Types"')]
    assert len(types) > 1
    assert all(c.text.startswith('#basics What are the "Types"') for c in types)
    # Chunks never start on an answer line: the first line of each is a question line of the export.
    for c in chunks:
        assert raw_lines[c.start_line - 1].strip() == c.heading


def test_markdown_headings_become_heading_paths_and_code_fences_stay_whole() -> None:
    # '#### Word2vec' then '### Continuous Bag of Words (CBOW)': CBOW is Word2vec's sibling under Embedding.
    tight = chunks_of("004.md", ChunkingConfig(max_chars=300, overlap_chars=50))
    cbow = next(c for c in tight if "predicts the current word" in c.text)
    assert cbow.heading == "AI › Embedding › Continuous Bag of Words (CBOW)"  # the front matter title heads the path
    # With room to spare, small subsections join their parent's chunk under the parent's path.
    roomy = chunks_of("004.md", ChunkingConfig(max_chars=4000, overlap_chars=100))
    assert next(c for c in roomy if "predicts the current word" in c.text).heading == "AI › Embedding"
    chunks = chunks_of("004.md")
    # '# Sample training data' is a comment inside a code fence, not a heading.
    assert not any("Sample training data" in c.heading for c in chunks)
    code = next(c for c in chunks if "from keras.models import Sequential" in c.text)
    assert code.text.count("```") % 2 == 0


def test_a_front_matter_title_heads_passages_whose_headings_do_not_name_the_note() -> None:
    doc = "---\ntitle: npm-ci\ndescription: Clean install a project\n---\n\n### Description\n\nLike install.\n"
    assert [c.heading for c in chunk_document(clean("ci.md", doc), ChunkingConfig())] == [
        "npm-ci: Clean install a project › Description"
    ]
    named = "---\ntitle: Ordered group_concat\n---\n# Ordered group_concat\n\nUse a subselect.\n"
    assert [c.heading for c in chunk_document(clean("g.md", named), ChunkingConfig())] == ["Ordered group_concat"]


def test_tables_are_kept_whole() -> None:
    chunks = chunks_of("004.md")
    table = next(c for c in chunks if "| cat     | 2   | 0   | 1" in c.text)
    assert "| Word    | the | cat |" in table.text
    assert "| friends | 1   | 0   | 0   | 0" in table.text


def test_bold_pseudo_headings_split_sections() -> None:
    chunks = chunks_of("001.md")
    recall = next(c for c in chunks if "Recall = TP/(TP+FN)" in c.text)
    assert recall.heading == "Type-I and Type-II error"
    assert "Precision = TP/(TP+FP)" in recall.text


def test_dated_blog_posts_carry_their_date_in_the_heading_path() -> None:
    chunks = chunks_of("002.txt")
    post = next(c for c in chunks if "circumstances where fine-tuning might be more advantageous" in c.text)
    assert post.heading.startswith("Friday, November 29, 2024 › In Which scenario")
    assert "Friday, November 29, 2024" in post.passage()


def test_chunks_respect_size_and_line_spans_point_into_the_file() -> None:
    for path in sorted(NOTES.iterdir()):
        raw_lines = path.read_text().split("\n")
        chunks = chunk_document(clean(path.name, path.read_text()), CONFIG)
        assert chunks
        for c in chunks:
            assert len(c.text) <= CONFIG.max_chars + 250, (path.name, c.start_line, len(c.text))
            span = " ".join(raw_lines[c.start_line - 1 : c.end_line])
            first_words = re.findall(r"\w+", c.text)[:3]
            assert all(w in span for w in first_words), (path.name, c.start_line)


def test_split_sections_overlap() -> None:
    long_section = "# Title\n\n" + "\n\n".join(f"Paragraph {i} " + "word " * 30 for i in range(12))
    chunks = chunk_document(clean("long.md", long_section + "\n## Other\n\nx y z\n# A\n\n**B**\n"), CONFIG)
    title = [c for c in chunks if c.heading == "Title"]
    assert len(title) >= 2
    last_par_of_first = title[0].text.split("\n\n")[-1]
    assert title[1].text.startswith(last_par_of_first)


def test_near_duplicate_documents_collapse_to_the_clean_copy() -> None:
    scrape = chunk_document(clean("000.txt", note("000")), CONFIG)
    markdown = chunk_document(clean("001.md", note("001")), CONFIG)
    kept = collapse_near_duplicates(scrape + markdown, frozenset({"000.txt"}))
    kept_chunks = [c for _, c in kept]
    from_scrape = [c for c in kept_chunks if c.file == "000.txt"]
    assert len(from_scrape) <= 0.15 * len(scrape)  # the scrape's copies are dropped...
    recall = [c for c in kept_chunks if "Recall = TP/(TP+FN)" in c.text]
    assert len(recall) == 1 and recall[0].file == "001.md"  # ...in favour of the markdown copy,
    assert any(loc.file == "000.txt" for loc in recall[0].also_in)  # which remembers the other location.
    assert len([c for c in kept_chunks if c.file == "001.md"]) == len(markdown)


def test_distinct_chunks_are_not_collapsed() -> None:
    chunks = chunk_document(clean("a.md", "# A\n\nalpha beta gamma delta epsilon\n"), CONFIG) + chunk_document(
        clean("b.md", "# B\n\nzeta eta theta iota kappa\n"), CONFIG
    )
    assert len(collapse_near_duplicates(chunks)) == 2


def test_bold_title_directly_above_its_text_is_a_heading() -> None:
    # "**RAG- Retrieval Augmented Generation**" has its paragraph on the next line, then a code block: the code
    # belongs to the RAG section, not to the "Attention is all you need" section above it.
    chunks = chunks_of("001.md")
    code = next(c for c in chunks if 'model_name = "facebook/rag-token-base"' in c.text)
    assert code.heading == "RAG- Retrieval Augmented Generation"
    assert "RAG- Retrieval Augmented Generation" in code.passage()


MARKDOWN = """Setext title
============

Intro line leading into a list:
- first item
- second item
  ```
  code inside the item
  ```

Sub-section
-----------

    indented = "code"
    # not a heading

---

| metric | formula |
| :----- | ------: |
| recall | TP/(TP+FN) |

## Closed ATX ##
Text under the closed heading.

Last setext
-----------
"""


def test_markdown_structure_comes_from_a_commonmark_parser() -> None:
    from ingest.blocks import heading_title, parse_blocks

    doc = clean("structure.md", MARKDOWN)
    blocks = parse_blocks(doc)
    headings = [(heading_title(b), b.level, b.start, b.end) for b in blocks if b.kind == "heading"]
    assert headings == [
        ("Setext title", 1, 1, 2),
        ("Sub-section", 2, 11, 12),
        ("Closed ATX", 2, 23, 23),
        ("Last setext", 2, 26, 27),  # a real heading with nothing under it stays a heading
    ]
    kinds = {b.text.split("\n")[0]: (b.kind, b.start, b.end) for b in blocks}
    assert kinds['    indented = "code"'] == ("code", 14, 15)  # indented code: "# not a heading" is code
    assert kinds["| metric | formula |"] == ("table", 19, 21)
    assert kinds["Intro line leading into a list:"] == ("paragraph", 4, 9)  # the lead-in stays with its list
    assert not any(b.text.strip() == "---" for b in blocks)  # a thematic break is not text
    for b in blocks:  # every block's text is its lines of the note
        assert b.text == "\n".join(MARKDOWN.split("\n")[b.start - 1 : b.end])
    chunks = chunk_document(doc, ChunkingConfig(max_chars=120, overlap_chars=20))  # small: no sections merge
    assert {c.heading for c in chunks} >= {"Setext title", "Setext title › Sub-section", "Setext title › Closed ATX"}


def test_a_long_indented_code_block_is_split_without_invented_fences() -> None:
    code = "\n".join(f"    value_{i} = compute({i})  # step {i}" for i in range(60))
    chunks = chunk_document(clean("code.md", f"# Code\n\n{code}\n"), ChunkingConfig(max_chars=400, overlap_chars=50))
    assert len(chunks) > 2 and not any("```" in c.text for c in chunks)
    assert all(0 not in c.lines for c in chunks[1:])  # every line of every piece is a line of the note
