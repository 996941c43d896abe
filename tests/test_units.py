"""Answer units made at ingest (ingest/units.py): whole structures with exact line spans."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.chunking import ChunkingConfig, chunk_document
from ingest.cleaning import clean
from ingest.types import AnswerUnit
from tests.conftest import NOTES

TIL = Path(__file__).resolve().parent.parent.parent / "shared" / "vaults" / "til"


def units_of(text: str, name: str = "n.md") -> list[AnswerUnit]:
    doc = clean(name, text)
    return [u for c in chunk_document(doc, ChunkingConfig()) for u in c.units]


def exact(unit: AnswerUnit, lines: list[str]) -> bool:
    """The unit's text is the document's text from its first to its last character."""
    span = lines[unit.start_line - 1 : unit.end_line]
    if unit.start_line == unit.end_line:
        return unit.text in span[0]
    parts = unit.text.split("\n")
    return (
        len(parts) == len(span) and span[0].endswith(parts[0]) and span[-1].startswith(parts[-1])
        and parts[1:-1] == span[1:-1]
    )  # fmt: skip


def folders() -> list[Path]:
    return [p for p in (NOTES, TIL) if p.is_dir()]


@pytest.mark.parametrize("folder", folders(), ids=lambda p: p.name)
def test_every_unit_is_exactly_the_text_of_its_lines(folder: Path) -> None:
    checked = 0
    for path in sorted(folder.rglob("*")):
        if path.suffix not in (".md", ".txt"):
            continue
        text = path.read_text(encoding="utf-8")
        doc = clean(path.name, text)
        for chunk in chunk_document(doc, ChunkingConfig()):
            for unit in chunk.units:
                assert exact(unit, list(doc.lines)), (path.name, unit)
                assert chunk.start_line <= unit.start_line <= unit.end_line <= chunk.end_line
                checked += 1
    assert checked > 500


def test_a_list_unit_holds_its_lead_in_and_its_items() -> None:
    text = "# CI\n\nThe main differences are:\n\n* it needs a lockfile\n  that exists\n* it never writes package.json\n"
    [unit] = units_of(text)
    assert unit.kind == "list" and (unit.start_line, unit.end_line) == (3, 7)
    assert unit.text.startswith("The main differences are:") and unit.text.endswith("never writes package.json")
    assert unit.context == "CI" and unit.lead


def test_a_code_unit_holds_the_sentence_that_introduces_it() -> None:
    text = (
        "# Ordered group_concat\n\nThe order is arbitrary. It turns out you can fix this using a subselect:\n\n"
        "```sql\nselect group_concat(x) from (select x from t order by ts)\n```\n\nSee the forum.\n"
    )
    units = units_of(text)
    code = next(u for u in units if u.kind == "code")
    assert code.text.startswith("It turns out you can fix this using a subselect:")
    assert code.text.endswith("```") and (code.start_line, code.end_line) == (3, 7)
    assert [u.text for u in units if u.kind != "code"] == ["The order is arbitrary.", "See the forum."]


def test_a_table_row_carries_its_header_row_as_context() -> None:
    text = "# Sizes\n\nDefaults are:\n\n| name | default |\n| --- | --- |\n| save-exact | false |\n| depth | 1 |\n"
    rows = [u for u in units_of(text) if u.kind == "table_row"]
    assert [(u.text, u.start_line) for u in rows] == [("| save-exact | false |", 7), ("| depth | 1 |", 8)]
    assert rows[0].context == "Sizes › Defaults are: › name | default"
    assert "name | default" in rows[0].display() and "save-exact" in rows[0].display()


def test_a_flashcard_answer_sits_under_its_question() -> None:
    text = "Deck\n\nAce your homework with Quizlet!\n\nWhat does RLHF stand for?\n\nReinforcement learning from human feedback\n"
    [unit] = [u for u in units_of(text, "cards.txt") if "Reinforcement" in u.text]
    assert unit.context == "What does RLHF stand for?" and unit.lead
    assert unit.display() == "(What does RLHF stand for?) Reinforcement learning from human feedback"


def test_a_lead_in_is_never_left_dangling_at_the_end_of_a_unit() -> None:
    line = (
        "RLHF trains a reward model on human rankings and then fine-tunes the policy against it with PPO so "
        "that the outputs follow what people prefer over many comparisons collected from labellers. "
        "How it works: 1. Pretraining a language model 2. Gathering data and training a reward model "
        "3. Fine-tuning the LM with reinforcement learning"
    )
    units = units_of(f"RLHF\n\n{line}\n", "n.txt")
    assert len(units) > 1
    assert not any(u.text.rstrip().endswith((":", "1.")) for u in units)
    assert any(u.text.startswith("How it works: 1. Pretraining") for u in units)


def test_a_lead_in_with_nothing_after_it_is_marked_and_a_colon_line_takes_the_unit_below() -> None:
    units = units_of("# A\n\nThe following command does it:\n\n`npm ci`\n\n# B\n\nPros:\n")
    assert units[0].kind == "prose" and units[0].text == "The following command does it:\n\n`npm ci`"
    assert units[-1].kind == "lead_in" and units[-1].text == "Pros:"


def test_a_long_sentence_run_is_cut_within_its_line() -> None:
    line = " ".join(f"Sentence number {i} says something rather long about gradient descent steps." for i in range(8))
    units = units_of(f"Title\n\n{line}\n", "n.txt")
    assert len(units) > 1 and all(u.start_line == u.end_line == 3 for u in units)
    assert all(u.text in line and len(u.text) <= 300 for u in units)


def test_a_wrapped_markdown_paragraph_is_one_unit() -> None:
    text = "# Install\n\nThis command is similar to npm install, except\nit is meant for automated\nenvironments.\n"
    [unit] = units_of(text)
    assert (unit.start_line, unit.end_line) == (3, 5) and unit.text.endswith("environments.")
