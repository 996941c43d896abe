"""Turn a raw note into a clean ``Document``: front matter removed, and what an export adds around a note
(``ingest.exports``: a web page's chrome, a flashcard site's banner and trailer).

Removed lines are blanked rather than deleted so that every chunk's line span points into the original file.
"""

from __future__ import annotations

import re
import tomllib
from typing import Any

import yaml

from ingest.exports import FLASHCARD_DECK, GITHUB_FILE_PAGE
from ingest.html_notes import HTML_SUFFIXES, html_to_text
from ingest.note_metadata import front_matter_tags, inline_tags, iso_date, unique
from ingest.org import org_to_markdown
from ingest.types import DocFormat, Document
from ingest.vault_syntax import rewrite_vault_syntax

# Headings, bold pseudo-headings and code fences mark a note as markdown (lists and tables alone do not).
_MD_STRUCTURE = re.compile(r"^(#{1,6} \S|\*\*[^*].*\*\*[\s:]*$|```)")


def clean(path: str, text: str, modified: str = "") -> Document:
    """``modified``: the file's modification day, the note's date when its front matter gives none."""
    page_title = ""
    if path.lower().endswith(HTML_SUFFIXES):
        text, page_title = html_to_text(text)
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    front = org_to_markdown(lines) if path.lower().endswith(".org") else _strip_front_matter(lines)
    properties = rewrite_vault_syntax(lines)
    note_tags = [*front_matter_tags(front), *properties.get("tags", [])]
    aliases = [*_as_list(front.get("aliases", front.get("alias"))), *properties.get("alias", [])]
    front = {**front, "tags": note_tags, **({"aliases": aliases} if aliases else {})}
    metadata = _metadata(front)
    if page_title:
        metadata.setdefault("title", page_title)
    scraped = GITHUB_FILE_PAGE.strip(lines, metadata)
    flashcards = FLASHCARD_DECK.strip(lines, metadata)
    fmt: DocFormat = "flashcards" if flashcards else _detect_format(path, lines)
    tags = unique([*note_tags, *inline_tags(lines)])
    date = iso_date(front.get("date")) or modified
    return Document(path, tuple(lines), fmt, metadata, scraped, tags, date, unique(aliases))


def _as_list(value: Any) -> list[str]:
    if value in (None, ""):
        return []
    return [str(v) for v in value] if isinstance(value, list | tuple) else [str(value)]


def _blank(lines: list[str], start: int, end: int) -> None:
    for i in range(start, end):
        lines[i] = ""


def _strip_front_matter(lines: list[str]) -> dict[str, Any]:
    """TOML (+++) or YAML (---) front matter at the top: blank it and return its keys ({} when none or invalid)."""
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is None or lines[first].strip() not in ("+++", "---"):
        return {}
    fence = lines[first].strip()
    end = next((i for i in range(first + 1, len(lines)) if lines[i].strip() == fence), None)
    if end is None:
        return {}
    body = "\n".join(lines[first + 1 : end])
    try:
        raw = tomllib.loads(body) if fence == "+++" else yaml.safe_load(body)
    except (tomllib.TOMLDecodeError, yaml.YAMLError):
        raw = None
    _blank(lines, first, end + 1)
    return raw if isinstance(raw, dict) else {}


def _metadata(raw: dict[str, Any]) -> dict[str, str]:
    """Title, description, date and tags as display strings."""
    meta: dict[str, str] = {}
    for key in ("title", "description", "date", "tags", "aliases"):
        value = raw.get(key)
        if value in (None, "", []):
            continue
        meta[key] = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
    return meta


def _detect_format(path: str, lines: list[str]) -> DocFormat:
    if path.lower().endswith((".md", ".markdown", ".org", ".pdf", *HTML_SUFFIXES)):
        return "markdown"
    structured = sum(1 for line in lines if _MD_STRUCTURE.match(line))
    return "markdown" if structured >= 3 else "plaintext"
