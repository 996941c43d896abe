"""Collapse near-duplicate chunks across files (e.g. a page scrape and the markdown of the same document).

Two chunks are near-duplicates when their word 3-gram sets overlap by at least ``threshold`` of the smaller
one. One copy is kept and records the other locations in ``also_in``; a copy from a page scrape (a lossy
rendering) is dropped in favour of one from a clean source.
"""

from __future__ import annotations

import re
from dataclasses import replace

from ingest.types import Chunk, Location

_WORD = re.compile(r"[0-9a-z]+")


def shingles(text: str, n: int = 3) -> frozenset[str]:
    words = _WORD.findall(text.lower())
    if len(words) < n:
        return frozenset([" ".join(words)]) if words else frozenset()
    return frozenset(" ".join(words[i : i + n]) for i in range(len(words) - n + 1))


def overlap(a: frozenset[str], b: frozenset[str]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / min(len(a), len(b))


def collapse_near_duplicates(
    chunks: list[Chunk], scraped_files: frozenset[str] = frozenset(), threshold: float = 0.7
) -> list[tuple[int, Chunk]]:
    """Return (row, chunk) for the chunks to index, in input order, each carrying its duplicates' locations."""
    # Rank: clean sources first, then longer text, then original order: the first of a duplicate group wins.
    order = sorted(range(len(chunks)), key=lambda i: (chunks[i].file in scraped_files, -len(chunks[i].text), i))
    sets = [shingles(c.text) for c in chunks]
    keeper_of: dict[int, int] = {}
    kept: list[int] = []
    kept_with: dict[str, list[int]] = {}  # shingle -> positions in `kept` of the kept chunks holding it
    for i in order:
        # Only kept chunks sharing a shingle can overlap; the first of them in keeping order wins, as before.
        candidates = sorted({pos for s in sets[i] for pos in kept_with.get(s, ())})
        match = next(
            (
                kept[pos]
                for pos in candidates
                if chunks[kept[pos]].file != chunks[i].file and overlap(sets[i], sets[kept[pos]]) >= threshold
            ),
            None,
        )
        if match is None:
            for s in sets[i]:
                kept_with.setdefault(s, []).append(len(kept))
            kept.append(i)
        else:
            keeper_of[i] = match
    extra: dict[int, list[Location]] = {}
    for dup, keeper in keeper_of.items():
        extra.setdefault(keeper, []).append(chunks[dup].location)
    return [
        (i, replace(chunks[i], also_in=tuple(sorted(extra.get(i, []), key=lambda x: (x.file, x.start_line)))))
        for i in sorted(kept)
    ]
