"""Evidence units keep exact file lines; selection prefers the unit that answers."""

from __future__ import annotations

from pathlib import Path

from index.build import IngestConfig, run_ingest
from index.search import Hit
from index.store import IndexStore
from ingest.types import Chunk
from service.evidence import question_terms, select_evidence, split_units
from tests.conftest import NOTES
from tests.fakes import HashEmbedder


def hit(text: str, heading: str = "", start: int = 1, rank: int = 1) -> Hit:
    lines = tuple(range(start, start + text.count("\n") + 1))
    return Hit(Chunk("n.md", heading, start, lines[-1], text, lines=lines), 0.5, rank)


def test_units_are_exactly_the_text_of_their_lines_in_every_bundled_note(tmp_path: Path) -> None:
    store = IndexStore(tmp_path / "index")
    run_ingest(NOTES, store, HashEmbedder(), IngestConfig())
    files = {p.name: p.read_text(encoding="utf-8").split("\n") for p in NOTES.iterdir()}
    checked = 0
    for chunk in store.load().chunks:
        for unit in split_units(Hit(chunk, 0.5, 1)):
            span = "\n".join(files[unit.file][unit.start_line - 1 : unit.end_line])
            assert unit.text in span, (unit.file, unit.start_line, unit.text[:60])
            checked += 1
    assert checked > 500


def test_headings_become_context_lists_group_and_tables_split_by_row() -> None:
    text = "**Benefits:**\n- stable\n- faster\n\n| a | b |\n| --- | --- |\n| 1 | 2 |\n| 3 | 4 |"
    units = split_units(hit(text, heading="Batch Norm", start=5))
    assert [(u.text, u.start_line, u.end_line, u.context) for u in units] == [
        ("- stable\n- faster", 6, 7, "Benefits:"),
        ("| a | b |", 9, 9, "Benefits:"),
        ("| 1 | 2 |", 11, 11, "Benefits:"),
        ("| 3 | 4 |", 12, 12, "Benefits:"),
    ]


def test_a_long_prose_line_splits_into_sentences_on_the_same_line() -> None:
    line = " ".join(f"Sentence number {i} says something rather long about gradient descent steps." for i in range(8))
    units = split_units(hit(line, start=40))
    assert len(units) > 1 and all(u.start_line == u.end_line == 40 for u in units)
    assert all(u.text in line and len(u.text) <= 300 for u in units)


def test_selection_prefers_the_unit_with_the_question_terms_and_fits_the_budget() -> None:
    hits = [
        hit("Precision = TP/(TP+FP)\n\nAccuracy counts every right prediction.", "Metrics", 1, rank=1),
        hit("Recall = TP/(TP+FN)", "Recall", 20, rank=2),
    ]
    chosen = select_evidence("What is the formula for recall?", hits, HashEmbedder(), char_budget=60)
    assert chosen[0].unit.text == "Recall = TP/(TP+FN)" and chosen[0].n == 1
    assert sum(len(e.unit.text) for e in chosen) <= 60 + len(chosen[-1].unit.text)
    assert [e.n for e in chosen] == list(range(1, len(chosen) + 1))


def test_a_lead_ending_in_a_colon_brings_its_next_unit() -> None:
    hits = [hit("Reduce the size of feature maps with:\n\n- strides\n- max pooling", "CNN", 1)]
    chosen = select_evidence("How do you reduce the size of feature maps?", hits, HashEmbedder())
    assert "strides" in chosen[0].unit.text and chosen[0].unit.end_line == 4


def test_question_terms_leave_out_words_about_the_notes() -> None:
    assert question_terms("What is transfer learning, per my flashcards?") == {"transfer", "learn"}
