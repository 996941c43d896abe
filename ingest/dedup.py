"""Collapse near-duplicate chunks across files (e.g. a page scrape and the markdown of the same document).

Two chunks are near-duplicates when their word 3-gram sets overlap by at least ``threshold`` of the smaller
one — or, when the smaller one is too short for overlap to mean copying (fewer than ``MIN_SHINGLES`` 3-grams: a
few words turn up inside unrelated text by chance), when their 3-gram sets are equal. One copy is kept and records the other locations in ``also_in``; a copy from a page scrape (a lossy
rendering) is dropped in favour of one from a clean source.
"""

from __future__ import annotations

import math
import re
from dataclasses import replace

from ingest.types import Chunk, Location

_WORD = re.compile(r"[0-9a-z]+")
MIN_SHINGLES = 6  # about eight words


def shingles(text: str, n: int = 3) -> frozenset[str]:
    words = _WORD.findall(text.lower())
    if len(words) < n:
        return frozenset([" ".join(words)]) if words else frozenset()
    return frozenset(" ".join(words[i : i + n]) for i in range(len(words) - n + 1))


def overlap(a: frozenset[str], b: frozenset[str]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / min(len(a), len(b))


def near_copies(a: frozenset[str], b: frozenset[str], threshold: float) -> bool:
    if min(len(a), len(b)) < MIN_SHINGLES:
        return bool(a) and a == b
    return overlap(a, b) >= threshold


def collapse_near_duplicates(
    chunks: list[Chunk], scraped_files: frozenset[str] = frozenset(), threshold: float = 0.7
) -> list[tuple[int, Chunk]]:
    """Return (row, chunk) for the chunks to index, in input order, each carrying its duplicates' locations."""
    # Rank: clean sources first, then longer text, then original order: the first of a duplicate group wins.
    order = sorted(range(len(chunks)), key=lambda i: (chunks[i].file in scraped_files, -len(chunks[i].text), i))
    sets = [shingles(c.text) for c in chunks]
    rank = _rarity_rank(sets)
    keeper_of: dict[int, int] = {}
    kept: list[int] = []
    # Prefix filtering (exact, no false negatives): sort each set rarest shingle first. If |A ∩ B| ≥ t·min(|A|,|B|)
    # then A's rarest |A| − ⌈t·|A|⌉ + 1 shingles meet B when A is the smaller set, and B's rarest ones meet A when
    # B is. So a chunk probes every kept chunk's shingles with its own rare prefix, and the kept chunks' rare
    # prefixes with all its shingles; rare shingles have short lists, which keeps this near-linear.
    holding: dict[str, list[int]] = {}  # shingle -> positions in `kept` of kept chunks holding it
    prefix_of: dict[str, list[int]] = {}  # shingle -> positions in `kept` of kept chunks with it in their prefix
    for i in order:
        ordered = sorted(sets[i], key=rank.__getitem__)
        head = ordered[: _prefix_length(len(ordered), threshold)]
        candidates = {pos for s in head for pos in holding.get(s, ())}
        candidates.update(pos for s in ordered for pos in prefix_of.get(s, ()))
        match = next(
            (
                kept[pos]
                for pos in sorted(candidates)  # the first in keeping order wins, as when comparing every pair
                if chunks[kept[pos]].file != chunks[i].file and near_copies(sets[i], sets[kept[pos]], threshold)
            ),
            None,
        )
        if match is None:
            for s in ordered:
                holding.setdefault(s, []).append(len(kept))
            for s in head:
                prefix_of.setdefault(s, []).append(len(kept))
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


def _rarity_rank(sets: list[frozenset[str]]) -> dict[str, tuple[int, str]]:
    """A total order on shingles, rarest first (ties by text): the global order prefix filtering needs."""
    counts: dict[str, int] = {}
    for shingle_set in sets:
        for s in shingle_set:
            counts[s] = counts.get(s, 0) + 1
    return {s: (n, s) for s, n in counts.items()}


def _prefix_length(size: int, threshold: float) -> int:
    """How many of a set's rarest shingles any set overlapping it by ``threshold`` of it must meet; one more than
    the bound, so float rounding can only widen the candidates."""
    return min(size, size - math.ceil(threshold * size) + 2)
