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


def test_same_result_as_every_pair_on_random_vaults() -> None:
    """Small vocabularies make chains of copies, copies inside one file, short and empty texts, scraped sources."""
    for seed in range(40):
        rng = random.Random(seed)
        words = [f"w{i}" for i in range(rng.choice([8, 30, 200]))]
        texts = [" ".join(rng.choices(words, k=rng.choice([0, 1, 2, 3, 5, 9, 20, 40]))) for _ in range(25)]
        chunks = []
        for i in range(rng.randint(20, 120)):
            tokens = rng.choice(texts).split()
            for j in rng.sample(range(len(tokens)), min(len(tokens), rng.choice([0, 0, 1, 3]))):
                tokens[j] = rng.choice(words)
            text = " ".join(tokens).replace("w1 ", rng.choice(["W1 ", "w1, ", "w1 "]))
            chunks.append(Chunk(f"f{rng.randint(0, 9)}.md", "H", i, i, text))
        scraped = frozenset(rng.sample([f"f{i}.md" for i in range(10)], rng.randint(0, 3)))
        threshold = rng.choice([0.5, 0.7, 0.9, 1.0])
        assert collapse_near_duplicates(chunks, scraped, threshold) == every_pair(chunks, scraped, threshold), seed


def test_a_template_repeated_in_thousands_of_notes_collapses_into_one() -> None:
    template = "Morning routine: meditate for ten minutes, journal, then a short walk before work starts."
    chunks = [Chunk(f"daily/{i}.md", "H", 1, 1, template) for i in range(3000)]
    chunks += [Chunk(f"daily/{i}.md", "H", 3, 3, f"{template} Day {i} of the streak.") for i in range(0, 3000, 10)]
    got = collapse_near_duplicates(chunks)
    assert got == every_pair(chunks, frozenset())
    # the longest text wins (day 1000: four digits); the template in that same note is not its copy, so it stays too
    assert [(c.file, c.start_line) for _, c in got] == [("daily/1000.md", 1), ("daily/1000.md", 3)]
    assert sum(len(c.also_in) for _, c in got) == len(chunks) - 2


def test_threshold_outside_zero_to_one_is_refused() -> None:
    import pytest

    with pytest.raises(ValueError, match="threshold"):
        collapse_near_duplicates([Chunk("a.md", "H", 1, 1, "text")], threshold=0.0)


def test_a_clean_passage_absorbs_the_scraped_page_that_holds_it_and_more() -> None:
    """The smaller set comes first (clean source), so the larger one must find it through the smaller one's prefix."""
    passage = "Gradient clipping caps the norm of the gradient so that one bad batch cannot blow up the weights."
    page = f"Home | Blog | About {passage} Subscribe to the newsletter for weekly posts on training deep networks well."
    chunks = [Chunk("page.html", "H", 1, 1, page), Chunk("note.md", "H", 1, 1, passage)]
    got = collapse_near_duplicates(chunks, frozenset({"page.html"}))
    assert got == every_pair(chunks, frozenset({"page.html"}))
    assert [c.file for _, c in got] == ["note.md"]
    assert got[0][1].also_in[0].file == "page.html"
