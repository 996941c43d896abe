"""Split a cleaned document into structural blocks: headings, paragraphs, code fences, tables."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from ingest.types import Document

BlockKind = Literal["heading", "paragraph", "code", "table"]

_ATX = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_BOLD_LINE = re.compile(r"^\*\*([^*].*?)\*\*[\s:]*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
_TABLE_ROW = re.compile(r"^\s*\|.*\|\s*$")
_DATE_LINE = re.compile(
    r"^(monday|tuesday|wednesday|thursday|friday|saturday|sunday),\s+[a-z]+\s+\d{1,2},\s+\d{4}$",
    re.IGNORECASE,
)
_LIST_START = re.compile(r"^\s*([-*+•]|\d+[.)])\s")


@dataclass(frozen=True)
class Block:
    kind: BlockKind
    start: int  # 1-based, inclusive
    end: int
    text: str
    level: int = 0  # headings only
    added_lines: tuple[int, ...] = ()  # 0-based lines of ``text`` that no file line holds (a re-added code fence)


def parse_blocks(doc: Document) -> list[Block]:
    lines = doc.lines
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            i += 1
            continue
        if _FENCE.match(line):
            j = i + 1
            while j < len(lines) and not _FENCE.match(lines[j]):
                j += 1
            end = min(j, len(lines) - 1)
            blocks.append(Block("code", i + 1, end + 1, "\n".join(lines[i : end + 1])))
            i = end + 1
            continue
        if doc.format == "markdown" and (m := _ATX.match(line)):
            blocks.append(Block("heading", i + 1, i + 1, line, level=len(m.group(1))))
            i += 1
            continue
        if _TABLE_ROW.match(line):
            j = i
            while j < len(lines) and _TABLE_ROW.match(lines[j]):
                j += 1
            blocks.append(Block("table", i + 1, j, "\n".join(lines[i:j])))
            i = j
            continue
        j = i
        while (
            j < len(lines)
            and lines[j].strip()
            and not _FENCE.match(lines[j])
            and not _TABLE_ROW.match(lines[j])
            and not (doc.format == "markdown" and _ATX.match(lines[j]))
        ):
            j += 1
        if j - i > 1 and doc.format == "markdown" and _BOLD_LINE.match(lines[i].strip()):
            # "**Title**" with its text on the very next line: a heading over a paragraph, not one paragraph.
            blocks.append(Block("heading", i + 1, i + 1, lines[i], level=7))
            i += 1
        blocks.append(_paragraph_or_heading(doc, i, j))
        i = j
    return _demote_empty_pseudo_headings(blocks)


def _demote_empty_pseudo_headings(blocks: list[Block]) -> list[Block]:
    """A guessed (plain-text) heading with nothing under it was just a short line: make it a paragraph."""
    out = list(blocks)
    for n, block in enumerate(out):
        if block.kind != "heading" or block.text.lstrip().startswith("#"):
            continue
        nxt = out[n + 1] if n + 1 < len(out) else None
        if nxt is None or (nxt.kind == "heading" and nxt.level <= block.level and block.level > 1):
            out[n] = Block("paragraph", block.start, block.end, block.text)
    return out


def _paragraph_or_heading(doc: Document, i: int, j: int) -> Block:
    text = "\n".join(doc.lines[i:j])
    if j - i == 1 and doc.format != "flashcards":
        level = _pseudo_heading_level(doc, doc.lines[i].strip())
        if level:
            return Block("heading", i + 1, j, text, level=level)
    return Block("paragraph", i + 1, j, text)


def _pseudo_heading_level(doc: Document, line: str) -> int:
    """Headings that are not markdown headings: bold lines, dated blog posts, short title-like lines."""
    if _DATE_LINE.match(line):
        return 1
    if doc.format == "markdown":
        return 7 if _BOLD_LINE.match(line) else 0
    if len(line) > 90 or len(line) < 3 or _LIST_START.match(line) or line[-1] in ".,;!)\"'":
        return 0
    if not re.search(r"[A-Za-z]{2}", line) or line.startswith(("http", "#", "from ", "import ")):
        return 0
    return 3 if line.endswith(":") else 2


def heading_title(block: Block) -> str:
    text = block.text.strip()
    if m := _ATX.match(text):
        text = m.group(2)
    elif m := _BOLD_LINE.match(text):
        text = m.group(1)
    return text.strip().rstrip(":").strip()
