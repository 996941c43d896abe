"""A note's tags and date, the metadata scoped questions filter on.

Tags: front matter ``tags``/``tag`` (a list or a comma/space separated string, ``#`` optional) and inline
Obsidian/Logseq-style ``#tags`` in the text (``#ml``, ``#ml/vision``, ``#interview-prep``; not headings, not
``#123``, not a ``page#anchor``, not inside fenced code). Lower case, without ``#``, first-seen order.
Date: front matter ``date`` (a date, a datetime or an ISO string), else the file's modification day."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

# A tag starts after a space or line start, holds letters, digits, _ - /, and has at least one non-digit.
_INLINE_TAG = re.compile(r"(?<![\w/#&])#([\w/-]*[^\W\d][\w/-]*)")
_FENCE = re.compile(r"^\s*(```|~~~)")


def normalise_tag(tag: str) -> str:
    return tag.strip().lstrip("#").strip("/").lower()


def front_matter_tags(raw: dict[str, Any]) -> list[str]:
    value = raw.get("tags", raw.get("tag"))
    if value is None:
        return []
    items: Iterable[Any] = value if isinstance(value, list | tuple) else re.split(r"[,\s]+", str(value))
    return [t for t in (normalise_tag(str(item)) for item in items if item is not None) if t]


def inline_tags(lines: Sequence[str]) -> list[str]:
    found: list[str] = []
    in_code = False
    for line in lines:
        if _FENCE.match(line):
            in_code = not in_code
            continue
        if in_code:
            continue
        found += [normalise_tag(m) for m in _INLINE_TAG.findall(re.sub(r"`[^`]*`", "", line))]
    return found


def unique(tags: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(t for t in tags if t))


def iso_date(value: Any) -> str:
    """YYYY-MM-DD of a front-matter date value; "" when it is not a date."""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.strip().replace("Z", "+00:00")).date().isoformat()
        except ValueError:
            return ""
    return ""
