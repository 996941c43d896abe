"""The adaptation trial's pure parts (``eval.adapt_trial``): which replies count as a question, which units are sampled."""

from __future__ import annotations

from dataclasses import dataclass

from eval.adapt_trial import question_from, sample_units
from ingest.types import AnswerUnit


def test_a_question_is_cut_at_its_question_mark_and_prefixes_go() -> None:
    assert question_from('Question: "How do I run the tests?" Use make test.') == "How do I run the tests?"
    assert question_from("\n\n**What does npm ci install?**\nmore") == "What does npm ci install?"


def test_a_reply_that_is_not_one_short_question_is_dropped() -> None:
    assert question_from("The passage explains npm ci.") is None
    assert question_from("Why?") is None  # under four words
    assert question_from("What " * 40 + "?") is None
    assert question_from("") is None


@dataclass
class FakeChunk:
    units: tuple[AnswerUnit, ...]


class FakeSnapshot:
    def __init__(self, chunks: list[FakeChunk]) -> None:
        self.chunks = chunks

    def units_of(self, row: int) -> tuple[tuple[AnswerUnit, ...], None]:
        return self.chunks[row].units, None


def unit(words: int) -> AnswerUnit:
    return AnswerUnit(" ".join(["word"] * words), 1, 1, "prose")


def test_at_most_one_unit_per_passage_and_never_a_short_one() -> None:
    snapshot = FakeSnapshot([FakeChunk((unit(3), unit(8), unit(9))) for _ in range(10)] + [FakeChunk((unit(2),))])
    picked = sample_units(snapshot, 50)
    rows = [row for row, _ in picked]
    assert len(rows) == len(set(rows)) == 10  # the passage with only a short unit gives none
    assert all(index in (1, 2) for _, index in picked)
    assert sample_units(snapshot, 4) == sample_units(snapshot, 4)  # seeded
    assert len(sample_units(snapshot, 4)) == 4
