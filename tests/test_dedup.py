"""Near-duplicate collapse: the candidate index gives exactly what comparing every pair gives."""

from __future__ import annotations

import random

from ingest.chunking import ChunkingConfig, chunk_document
from ingest.cleaning import clean
from ingest.dedup import collapse_near_duplicates, near_copies, shingles
from ingest.reading import find_notes, read_note
from ingest.types import Chunk
from tests.conftest import NOTES


def every_pair(chunks: list[Chunk], scraped: frozenset[str], threshold: float = 0.7) -> list[tuple[int, Chunk]]:
    """The reference: each chunk against every kept one, in keeping order (the implementation before the index)."""
    from dataclasses import replace

    order = sorted(range(len(chunks)), key=lambda i: (chunks[i].file in scraped, -len(chunks[i].text), i))
    sets = [shingles(c.text) for c in chunks]
    kept: list[int] = []
    keeper_of: dict[int, int] = {}
    for i in order:
        match = next(
            (k for k in kept if chunks[k].file != chunks[i].file and near_copies(sets[i], sets[k], threshold)), None
        )
        if match is None:
            kept.append(i)
        else:
            keeper_of[i] = match
    extra: dict[int, list] = {}
    for dup, keeper in keeper_of.items():
        extra.setdefault(keeper, []).append(chunks[dup].location)
    return [
        (i, replace(chunks[i], also_in=tuple(sorted(extra.get(i, []), key=lambda x: (x.file, x.start_line)))))
        for i in sorted(kept)
    ]


def bundled_chunks() -> tuple[list[Chunk], frozenset[str]]:
    chunks, scraped = [], set()
    for path in find_notes(NOTES):
        note = read_note(NOTES, path, 5_000_000)
        doc = clean(note.path, note.text)
        chunks += chunk_document(doc, ChunkingConfig())
        if doc.scraped:
            scraped.add(note.path)
    return chunks, frozenset(scraped)


def test_same_result_as_every_pair_on_the_bundled_notes() -> None:
    chunks, scraped = bundled_chunks()
    got = collapse_near_duplicates(chunks, scraped)
    assert got == every_pair(chunks, scraped)
    assert len(chunks) > len(got)  # the near-copy of one document does collapse


def test_planted_near_duplicates_collapse_and_distinct_chunks_do_not() -> None:
    rng = random.Random(7)
    words = [f"w{i}" for i in range(3000)]
    chunks: list[Chunk] = []
    originals = []
    for i in range(400):
        text = " ".join(rng.choices(words, k=60))
        originals.append(text)
        chunks.append(Chunk(f"a/{i}.md", "H", 1, 3, text))
    planted = 40
    for i in range(planted):  # a copy in another file with a few words changed
        tokens = originals[i].split()
        for j in rng.sample(range(len(tokens)), 3):
            tokens[j] = rng.choice(words)
        chunks.append(Chunk(f"b/{i}.md", "H", 1, 3, " ".join(tokens)))
    got = collapse_near_duplicates(chunks)
    assert got == every_pair(chunks, frozenset())
    assert len(got) == 400  # every planted copy collapsed into its original, no distinct chunk merged
    assert sum(len(c.also_in) for _, c in got) == planted


def test_a_few_words_found_inside_unrelated_text_are_not_a_copy() -> None:
    long = "The t-Distributed Stochastic Neighbor Embedding method is a technique for reducing dimensions of data."
    chunks = [
        Chunk("a.md", "H", 1, 3, long),
        Chunk("b.md", "H", 1, 1, "Stochastic Neighbor Embedding method"),  # 2 3-grams, both inside `long`
        Chunk("c.md", "H", 1, 1, "See image"),
        Chunk("d.md", "H", 1, 1, "See image."),  # the same short text in another file is still one passage
    ]
    got = collapse_near_duplicates(chunks)
    assert [c.file for _, c in got] == ["a.md", "b.md", "d.md"]  # the longer text of the two is kept
    assert got[2][1].also_in[0].file == "c.md"
    assert got == every_pair(chunks, frozenset())
