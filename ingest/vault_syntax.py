"""Obsidian / Logseq / Foam conventions, rewritten line for line (so line spans stay true):

- ``[[target|alias]]`` reads as ``alias``, ``[[target]]`` as ``target``, ``[[target#heading]]`` as ``target › heading``;
- ``![[embed]]`` and markdown images ``![alt](src)`` are dropped (an embedded file or picture is not text here);
- Logseq ``key:: value`` property lines become metadata (``tags::``/``alias::`` as tags and aliases) and are blanked.
Fenced code is left alone."""

from __future__ import annotations

import re

_EMBED = re.compile(r"!\[\[[^\]\n]*\]\]")
_IMAGE = re.compile(r"!\[[^\]\n]*\]\([^)\n]*\)")
_WIKILINK = re.compile(r"\[\[([^\]|\n]+?)(?:\|([^\]\n]+))?\]\]")
_PROPERTY = re.compile(r"^\s*(?:-\s+)?([A-Za-z][\w-]*)::(?:\s+(.*))?$")  # "key:: value", not "std::vector"
_FENCE = re.compile(r"^\s*(```|~~~)")


def _link_text(match: re.Match[str]) -> str:
    target, alias = match.group(1), match.group(2)
    return (alias or target.replace("#^", " › ").replace("#", " › ")).strip()


def rewrite_vault_syntax(lines: list[str]) -> dict[str, list[str]]:
    """Rewrite ``lines`` in place; returns the Logseq properties found (key → values, e.g. {"tags": [...]})."""
    properties: dict[str, list[str]] = {}
    in_code = False
    for i, line in enumerate(lines):
        if _FENCE.match(line):
            in_code = not in_code
            continue
        if in_code:
            continue
        if prop := _PROPERTY.match(line):
            key, value = prop.group(1).lower(), prop.group(2) or ""
            values = [v.strip().strip("[]#") for v in re.split(r",\s*", value) if v.strip()]
            properties.setdefault(key, []).extend(values)
            lines[i] = ""
            continue
        if "[" in line:
            lines[i] = _WIKILINK.sub(_link_text, _IMAGE.sub("", _EMBED.sub("", line)))
    return properties
