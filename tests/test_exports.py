"""Export adapters on hand-made samples: each takes off what its kind of export adds, blanks rather than deletes
(spans stay true), and leaves other notes alone."""

from __future__ import annotations

from ingest.exports import ADAPTERS, FLASHCARD_DECK, GITHUB_FILE_PAGE

GITHUB_PAGE = """Skip to content
Latest commit
History
notes.md
Raw
Blame
12 lines (9 loc) · 1.2 KB
# Notes

Recall = TP/(TP+FN)
"""

DECK = """Interview prep: metrics
Ace your homework with Quizlet!
What is recall?

TP/(TP+FN)

Related study sets
Statistics 101
View set
"""

PLAIN = """# Raw data

Raw logs go to Blame.md first.
Latest commit is on main.
"""


def lines_of(text: str) -> list[str]:
    return text.rstrip("\n").split("\n")


def test_the_github_page_adapter_blanks_the_chrome_only() -> None:
    lines, meta = lines_of(GITHUB_PAGE), {}
    assert GITHUB_FILE_PAGE.strip(lines, meta)
    assert lines[:7] == [""] * 7 and lines[7:] == ["# Notes", "", "Recall = TP/(TP+FN)"]
    assert len(lines) == len(lines_of(GITHUB_PAGE))


def test_the_flashcard_adapter_takes_the_banner_and_trailer_and_keeps_the_title() -> None:
    lines, meta = lines_of(DECK), {}
    assert FLASHCARD_DECK.strip(lines, meta)
    assert meta["title"] == "Interview prep: metrics"
    assert [line for line in lines if line] == ["What is recall?", "TP/(TP+FN)"]
    assert len(lines) == len(lines_of(DECK))


def test_a_plain_note_is_no_export() -> None:
    for adapter in ADAPTERS:
        lines, meta = lines_of(PLAIN), {}
        assert not adapter.strip(lines, meta), adapter.name
        assert lines == lines_of(PLAIN) and meta == {}
