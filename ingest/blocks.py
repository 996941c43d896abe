"""Split a cleaned document into structural blocks: headings, paragraphs, code, tables.

Markdown goes through a CommonMark parser (markdown-it-py, with GFM tables): ATX and setext headings, fenced and
indented code, tables, lists and quotes come from its block tokens, and each block's line span from the token's
line map, so spans stay exact. Plain text and flashcards, which have no markup, are split by blank lines and
title-like lines."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Literal

from markdown_it import MarkdownIt

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
_OWN_BLOCK_TOKENS = {"heading_open", "fence", "code_block", "table_open", "hr"}  # the rest is text
_SETEXT_UNDERLINE = re.compile(r"^\s{0,3}(=+|-+)\s*$")


@dataclass(frozen=True)
class Block:
    kind: BlockKind
    start: int  # 1-based, inclusive
    end: int
    text: str
    level: int = 0  # headings only
    added_lines: tuple[int, ...] = ()  # 0-based lines of ``text`` that no file line holds (a re-added code fence)
    guessed: bool = False  # a heading by its look (a bold or title-like line), not by markup


def parse_blocks(doc: Document) -> list[Block]:
    blocks = _markdown_blocks(doc) if doc.format == "markdown" else _text_blocks(doc, 0, len(doc.lines))
    return _demote_empty_pseudo_headings(blocks)


@cache
def _markdown_parser() -> MarkdownIt:
    return MarkdownIt("commonmark").enable("table")


def _markdown_blocks(doc: Document) -> list[Block]:
    """One block per top-level token: headings, code (fenced or indented) and tables as they are; paragraphs,
    lists, quotes and HTML split at blank lines as in plain text (a line that leads into a list stays with it).
    Thematic breaks are dropped."""
    lines = doc.lines
    blocks: list[Block] = []
    text: tuple[int, int] | None = None  # lines of adjacent text tokens not yet split

    def flush() -> None:
        nonlocal text
        if text:
            blocks.extend(_text_blocks(doc, *text))
        text = None

    for token in _markdown_parser().parse("\n".join(lines)):
        if token.level != 0 or token.nesting == -1 or token.map is None:
            continue
        start, end = token.map
        if token.type not in _OWN_BLOCK_TOKENS:
            if text and text[1] >= start:
                text = (text[0], end)
            else:
                flush()
                text = (start, end)
            continue
        flush()
        while end > start + 1 and not lines[end - 1].strip():  # a token's map may end on blank lines
            end -= 1
        body = "\n".join(lines[start:end])
        if token.type == "heading_open":
            blocks.append(Block("heading", start + 1, end, body, level=int(token.tag[1:])))
        elif token.type in ("fence", "code_block"):
            blocks.append(Block("code", start + 1, end, body))
        elif token.type == "table_open":
            blocks.append(Block("table", start + 1, end, body))
    flush()
    return blocks


def _text_blocks(doc: Document, i: int, stop: int) -> list[Block]:
    """Lines ``i``..``stop`` (0-based, exclusive) of text without markup: runs of non-blank lines, code fences and
    pipe tables; a title-like line alone is a heading."""
    lines = doc.lines
    fences = doc.format != "markdown"  # in markdown the parser found them; a fence here is inside a list item
    blocks: list[Block] = []
    while i < stop:
        line = lines[i]
        if not line.strip():
            i += 1
            continue
        if fences and _FENCE.match(line):
            j = i + 1
            while j < stop and not _FENCE.match(lines[j]):
                j += 1
            end = min(j, stop - 1)
            blocks.append(Block("code", i + 1, end + 1, "\n".join(lines[i : end + 1])))
            i = end + 1
            continue
        if _TABLE_ROW.match(line):
            j = i
            while j < stop and _TABLE_ROW.match(lines[j]):
                j += 1
            blocks.append(Block("table", i + 1, j, "\n".join(lines[i:j])))
            i = j
            continue
        j = i
        while (
            j < stop and lines[j].strip() and not (fences and _FENCE.match(lines[j])) and not _TABLE_ROW.match(lines[j])
        ):
            j += 1
        if j - i > 1 and doc.format == "markdown" and _BOLD_LINE.match(lines[i].strip()):
            # "**Title**" with its text on the very next line: a heading over a paragraph, not one paragraph.
            blocks.append(Block("heading", i + 1, i + 1, lines[i], level=7, guessed=True))
            i += 1
        blocks.append(_paragraph_or_heading(doc, i, j))
        i = j
    return blocks


def _demote_empty_pseudo_headings(blocks: list[Block]) -> list[Block]:
    """A guessed (plain-text) heading with nothing under it was just a short line: make it a paragraph."""
    out = list(blocks)
    for n, block in enumerate(out):
        if block.kind != "heading" or not block.guessed:
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
            return Block("heading", i + 1, j, text, level=level, guessed=True)
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
    rows = text.split("\n")
    if len(rows) > 1 and _SETEXT_UNDERLINE.match(rows[-1]):  # "Title" over "=====": the title's lines
        text = " ".join(r.strip() for r in rows[:-1])
    if m := _ATX.match(text):
        text = m.group(2)
    elif m := _BOLD_LINE.match(text):
        text = m.group(1)
    return text.strip().rstrip(":").strip()
