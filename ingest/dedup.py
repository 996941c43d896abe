"""Collapse near-duplicate chunks across files (e.g. a page scrape and the markdown of the same document).

Two chunks are near-duplicates when their word 3-gram sets overlap by at least ``threshold`` of the smaller
one — or, when the smaller one is too short for overlap to mean copying (fewer than ``MIN_SHINGLES`` 3-grams: a
few words turn up inside unrelated text by chance), when their 3-gram sets are equal. One copy is kept and records
the other locations in ``also_in``; a copy from a page scrape (a lossy rendering) is dropped in favour of one from
a clean source.

The result is that of comparing each chunk, in keeping order, with every chunk kept before it; it is computed
without comparing pairs that cannot match. 3-grams become integer ids (numpy), chunks with the same 3-gram set
share one set, and prefix filtering over the distinct sets lists the pairs of sets that may be near copies.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import replace
from itertools import chain, count

import numpy as np

from ingest.types import Chunk, Location

_WORD = re.compile(r"[0-9a-z]+")
MIN_SHINGLES = 6  # about eight words
_BLOCK = 1 << 22  # candidate pairs expanded at a time (bounds memory when many sets share their rare 3-grams)


def shingles(text: str, n: int = 3) -> frozenset[str]:
    """A text's word 3-grams (its words, when it has fewer than three): the definition the integer ids follow."""
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
    if not 0 < threshold <= 1:
        raise ValueError(f"dedup threshold must be in (0, 1], got {threshold}")
    # Rank: clean sources first, then longer text, then original order: the first of a duplicate group wins.
    order = sorted(range(len(chunks)), key=lambda i: (chunks[i].file in scraped_files, -len(chunks[i].text), i))
    position = np.empty(len(chunks), dtype=np.int64)
    position[order] = np.arange(len(chunks))
    set_of, sets = _distinct_sets(*_shingle_ids([c.text for c in chunks]), len(chunks))
    neighbours = _Candidates(sets, threshold)
    files = [c.file for c in chunks]
    # Each set's earliest kept chunk: the only one of its set a later chunk can match. Any other kept chunk with
    # that set is in the same file as it (one from another file would have matched it).
    first = np.full(len(sets), -1, dtype=np.int64)
    keeper_of: dict[int, int] = {}
    kept: list[int] = []
    for i in order:
        d = int(set_of[i])
        keepers = first[neighbours.of(d)]
        keepers = keepers[keepers >= 0]
        if len(keepers) > 1:
            keepers = keepers[np.argsort(position[keepers])]  # the first in keeping order wins
        match = next(
            (k for k in keepers.tolist() if files[k] != files[i] and sets.near(d, int(set_of[k]), threshold)),
            None,
        )
        if match is None:
            kept.append(i)
            if first[d] < 0:
                first[d] = i
        else:
            keeper_of[i] = match
    extra: dict[int, list[Location]] = {}
    for dup, keeper in keeper_of.items():
        extra.setdefault(keeper, []).append(chunks[dup].location)
    return [
        (i, replace(chunks[i], also_in=tuple(sorted(extra.get(i, []), key=lambda x: (x.file, x.start_line)))))
        for i in sorted(kept)
    ]


def _shingle_ids(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Each text's distinct 3-grams as integer ids, equal exactly when the 3-grams are (as ``shingles`` defines
    them): (owner text, shingle id) rows sorted by owner, then id."""
    vocab: defaultdict[str, int] = defaultdict(count(1).__next__)  # word -> id; 0 pads
    words = [[vocab[w] for w in _WORD.findall(t.lower())] for t in texts]
    k = np.fromiter(map(len, words), dtype=np.int64, count=len(texts))
    start = np.cumsum(k + 2) - (k + 2)  # each text as [0, 0, its words...] in one array
    padded = np.zeros(int((k + 2).sum()), dtype=np.int64)
    padded[_ranges(start + 2, k)] = np.fromiter(chain.from_iterable(words), dtype=np.int64, count=int(k.sum()))
    # k >= 3 words: the k - 2 3-grams of words; 1 or 2 words: one 3-gram padded in front (those words); none: none
    n = np.where(k >= 3, k - 2, np.minimum(k, 1))
    q = _ranges(start + k - n, n)  # where each 3-gram starts in `padded`
    base = len(vocab) + 1
    code = padded[q] * base + padded[q + 1]
    if base**3 >= 2**62:  # too many distinct words for one int64 per 3-gram: number the word pairs first
        _, code = np.unique(code, return_inverse=True)
    _, sid = np.unique(code.reshape(-1) * base + padded[q + 2], return_inverse=True)
    width = int(sid.max()) + 1 if len(sid) else 1
    key = _unique(np.repeat(np.arange(len(texts), dtype=np.int64), n) * width + sid.reshape(-1))
    return key // width, key % width


def _unique(x: np.ndarray) -> np.ndarray:
    """``np.unique(x)`` by sorting (numpy 2's hash-table ``unique`` is several times slower on large int arrays)."""
    x = np.sort(x)
    return x[np.concatenate([[True], x[1:] != x[:-1]])] if len(x) else x


def _ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The concatenation of range(s, s + n) for each start s and length n."""
    offsets = np.cumsum(lengths) - lengths
    return np.repeat(starts - offsets, lengths) + np.arange(int(lengths.sum()), dtype=np.int64)


class _Sets:
    """The distinct 3-gram sets, each a sorted array of ids (CSR)."""

    def __init__(self, ptr: np.ndarray, ids: np.ndarray) -> None:
        self.ptr, self.ids = ptr, ids
        self.sizes = np.diff(ptr)

    def __len__(self) -> int:
        return len(self.sizes)

    def members(self, s: int) -> np.ndarray:
        return self.ids[self.ptr[s] : self.ptr[s + 1]]

    def near(self, a: int, b: int, threshold: float) -> bool:
        """``near_copies`` on the two sets."""
        x, y = self.members(a), self.members(b)
        small = min(len(x), len(y))
        if small < MIN_SHINGLES:
            return small > 0 and np.array_equal(x, y)
        return len(np.intersect1d(x, y, assume_unique=True)) / small >= threshold


def _distinct_sets(owner: np.ndarray, sid: np.ndarray, n_texts: int) -> tuple[np.ndarray, _Sets]:
    """Each text's set number, and the distinct sets (the empty set included when a text has no words)."""
    ptr = np.searchsorted(owner, np.arange(n_texts + 1))
    number: dict[bytes, int] = {}
    set_of = np.fromiter(
        (number.setdefault(sid[ptr[i] : ptr[i + 1]].tobytes(), len(number)) for i in range(n_texts)),
        dtype=np.int64,
        count=n_texts,
    )
    first_text = np.full(len(number), n_texts, dtype=np.int64)
    np.minimum.at(first_text, set_of, np.arange(n_texts))
    sizes = ptr[first_text + 1] - ptr[first_text]
    set_ptr = np.concatenate([[0], np.cumsum(sizes)])
    return set_of, _Sets(set_ptr, sid[_ranges(ptr[first_text], sizes)])


class _Candidates:
    """For each distinct set, itself (if not empty) and the other sets that may be its near copies: prefix
    filtering (exact, no false negatives). Only sets of ``MIN_SHINGLES`` or more can be near copies of a different
    set. Sort each such set rarest 3-gram first; if |A ∩ B| ≥ t·|A| for the smaller A, then A's rarest
    |A| − ⌈t·|A|⌉ + 1 3-grams meet B. So pairing each set's rare prefix with every set holding one of its 3-grams
    lists every near pair; rare 3-grams have few holders, which keeps the list near-linear in the 3-grams."""

    def __init__(self, sets: _Sets, threshold: float) -> None:
        n_sets, width = len(sets), int(sets.ids.max()) + 1 if len(sets.ids) else 1
        long_sets = np.flatnonzero(sets.sizes >= MIN_SHINGLES)
        sizes = sets.sizes[long_sets]
        owner = np.repeat(long_sets, sizes)
        sid = sets.ids[_ranges(sets.ptr[long_sets], sizes)]
        freq = np.bincount(sid, minlength=width)
        by_rarity = np.argsort(freq, kind="stable")  # 3-grams rarest first: the global order prefixes follow
        rarity = np.empty(width, dtype=np.int64)
        rarity[by_rarity] = np.arange(width)
        key = np.sort(owner * width + rarity[sid])  # each set's 3-grams, rarest first
        place = np.arange(len(key)) - np.repeat(np.cumsum(sizes) - sizes, sizes)
        # one more than the bound, so float rounding can only widen the candidates
        prefix_len = np.repeat(np.minimum(sizes, sizes - np.ceil(threshold * sizes).astype(np.int64) + 2), sizes)
        prefix = key[place < prefix_len]
        holders = np.sort(sid * n_sets + owner) % n_sets  # the sets holding each 3-gram, by 3-gram
        pairs = _prefix_pairs(prefix // width, by_rarity[prefix % width], holders, freq, n_sets)
        itself = np.flatnonzero(sets.sizes > 0)
        pairs = _unique(np.concatenate([pairs, (pairs % n_sets) * n_sets + pairs // n_sets, itself * (n_sets + 1)]))
        self._ptr = np.searchsorted(pairs // max(n_sets, 1), np.arange(n_sets + 1))
        self._to = pairs % max(n_sets, 1)

    def of(self, s: int) -> np.ndarray:
        return self._to[self._ptr[s] : self._ptr[s + 1]]


def _prefix_pairs(a: np.ndarray, shingle: np.ndarray, holders: np.ndarray, freq: np.ndarray, n_sets: int) -> np.ndarray:
    """a * n_sets + b, distinct, for each prefix entry (a, shingle) and each other set b holding that shingle; in
    blocks of about ``_BLOCK`` pairs."""
    holder_ptr = np.cumsum(freq) - freq
    fanout = freq[shingle]
    ends = np.cumsum(fanout)
    found = [np.zeros(0, dtype=np.int64)]
    lo = 0
    while lo < len(a):
        done = int(ends[lo - 1]) if lo else 0
        hi = max(int(np.searchsorted(ends, done + _BLOCK, side="right")), lo + 1)
        b = holders[_ranges(holder_ptr[shingle[lo:hi]], fanout[lo:hi])]
        rows = np.repeat(a[lo:hi], fanout[lo:hi])
        keep = rows != b
        found.append(_unique(rows[keep] * n_sets + b[keep]))
        lo = hi
    return np.concatenate(found)
