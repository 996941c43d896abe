"""Org-mode notes read as markdown, line for line (so line spans stay true): ``* Heading`` → ``# Heading``, source
blocks → code fences, ``#+TITLE``/``#+FILETAGS``/``#+DATE`` → metadata, keyword lines and property drawers
blanked; heading tags (``* Topic :ml:interview:``) become the note's tags."""

from __future__ import annotations

import re
from typing import Any

_HEADING = re.compile(r"^(\*+)\s+(?:(?:TODO|DONE|NEXT|WAITING)\s+)?(?:\[#[A-C]\]\s+)?(.*?)(?:\s+(:[\w@#%:]+:))?\s*$")
_KEYWORD = re.compile(r"^\s*#\+(\w+):\s*(.*)$", re.IGNORECASE)
_BLOCK = re.compile(r"^\s*#\+(begin|end)_(\w+)\s*(\S*)", re.IGNORECASE)
_DRAWER_START = re.compile(r"^\s*:[A-Z]+:\s*$")
_DATE = re.compile(r"(\d{4}-\d{2}-\d{2})")


def org_to_markdown(lines: list[str]) -> dict[str, Any]:
    """Rewrite ``lines`` in place; returns the note's keys as front matter gives them: title, tags, date."""
    metadata: dict[str, Any] = {}
    tags: list[str] = []
    day = ""
    in_drawer = False
    for i, line in enumerate(lines):
        if in_drawer:
            in_drawer = line.strip().upper() != ":END:"
            lines[i] = ""
            continue
        if block := _BLOCK.match(line):
            begin, kind, lang = block.group(1).lower() == "begin", block.group(2).lower(), block.group(3)
            lines[i] = ("```" + (lang if begin and kind == "src" else "")) if kind in ("src", "example") else ""
            continue
        if keyword := _KEYWORD.match(line):
            key, value = keyword.group(1).lower(), keyword.group(2).strip()
            if key == "title" and value:
                metadata["title"] = value
            elif key == "filetags":
                tags += [t for t in value.split(":") if t.strip()]
            elif key == "date" and (found := _DATE.search(value)):
                day = found.group(1)
            lines[i] = ""
            continue
        if _DRAWER_START.match(line) and line.strip().upper() != ":END:":
            in_drawer = True
            lines[i] = ""
            continue
        if heading := _HEADING.match(line):
            stars, title, heading_tags = heading.groups()
            lines[i] = "#" * min(len(stars), 6) + " " + title
            if heading_tags:
                tags += [t for t in heading_tags.split(":") if t]
    return {**metadata, "tags": tags, **({"date": day} if day else {})}
