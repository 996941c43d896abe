"""Export adapters: what a tool that exports or renders notes adds around them, and how to take it off again.
Each adapter knows one kind of export, is named for it, and blanks (never deletes) the lines it removes, so line
spans stay true. A note that is not such an export is left as it is.

- ``GITHUB_FILE_PAGE``: a markdown file copied from GitHub's "view file" page (a scrape: the page's chrome above
  the content — "Skip to content", "Latest commit", "Raw", "Blame", the file name, "N lines (M loc) · 3 KB").
- ``FLASHCARD_DECK``: a flashcard deck copied from a flashcard site (Quizlet and the like): a promo banner under
  the deck's title, the cards, then a "related study sets" trailer with "View set" links.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

# Lines a GitHub "view file" page scrape carries around the content.
_CHROME_LINE = re.compile(
    r"^(skip to content|latest commit|history|file metadata and controls|raw|blame|preview|code"
    r"|copy raw file|download raw file|edit this file|\d+ lines \(\d+ loc\) · [\d.]+ (bytes|kb|mb)"
    r"|[\w.\- ]+\.(md|markdown|txt))$",
    re.IGNORECASE,
)
# Lines a flashcard site puts above the cards (promo banners).
_FLASHCARD_BANNER = re.compile(r"(quizwiz|quizlet|réussis tes devoirs|ace your homework)", re.IGNORECASE)
# Headings that open the "related study sets" trailer of a flashcard export.
_TRAILER_HEADING = re.compile(
    r"^(ensembles d'études connexes|related study sets|other study sets|study sets|sets found in the same folder)$",
    re.IGNORECASE,
)
_VIEW_SET = re.compile(r"^view set$", re.IGNORECASE)


class ExportAdapter(Protocol):
    @property
    def name(self) -> str: ...

    def strip(self, lines: list[str], metadata: dict[str, str]) -> bool:
        """Blank what the export added (in place); True when the note is such an export."""
        ...


@dataclass(frozen=True)
class GitHubFilePage:
    name: str = "GitHub file page"

    def strip(self, lines: list[str], metadata: dict[str, str]) -> bool:
        return _strip_page_chrome(lines)


@dataclass(frozen=True)
class FlashcardDeck:
    name: str = "flashcard deck"

    def strip(self, lines: list[str], metadata: dict[str, str]) -> bool:
        return _strip_flashcard_export(lines, metadata)


GITHUB_FILE_PAGE = GitHubFilePage()
FLASHCARD_DECK = FlashcardDeck()
ADAPTERS: tuple[ExportAdapter, ...] = (GITHUB_FILE_PAGE, FLASHCARD_DECK)


def _strip_page_chrome(lines: list[str]) -> bool:
    """Blank the leading run of web-page chrome lines. Returns True when the note is a page scrape."""
    hits = 0
    end = 0
    for i, line in enumerate(lines[:40]):
        stripped = line.strip()
        if not stripped:
            continue
        if _CHROME_LINE.match(stripped):
            hits += 1
            end = i + 1
        else:
            break
    # One stray line that looks like a filename is not a scrape; the header of a page has several.
    if hits < 3:
        return False
    _blank(lines, 0, end)
    return True


def _strip_flashcard_export(lines: list[str], metadata: dict[str, str]) -> bool:
    """Blank the banner and the "related study sets" trailer of a flashcard export. True if it is one."""
    banner = next((i for i, line in enumerate(lines[:15]) if _FLASHCARD_BANNER.search(line) and len(line) < 120), None)
    trailer = next(
        (
            i
            for i, line in enumerate(lines)
            if _TRAILER_HEADING.match(line.strip()) and any(_VIEW_SET.match(x.strip()) for x in lines[i:])
        ),
        None,
    )
    if banner is None and trailer is None:
        return False
    if trailer is not None:
        _blank(lines, trailer, len(lines))
    if banner is not None:
        # Everything above the banner is the deck's title.
        title = " ".join(line.strip() for line in lines[:banner] if line.strip())
        if title:
            metadata.setdefault("title", title)
        _blank(lines, 0, banner + 1)
    return True


def _blank(lines: list[str], start: int, end: int) -> None:
    for i in range(start, end):
        lines[i] = ""
