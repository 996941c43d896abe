"""The generator as a selector: logits read from a real short prompt; a backend without logits has none."""

from __future__ import annotations

import pytest

from index.search import Hit
from ingest.types import Chunk
from service.pipeline.evidence import Unit
from service.pipeline.selector import select, selector_prompt
from tests.fakes import ScriptedGenerator


def unit(text: str, n: int) -> Unit:
    hit = Hit(Chunk("n.md", "Metrics", n, n, text), 0.5, n)
    return Unit(text, "Metrics", "n.md", "Metrics", n, n, hit, 0)


UNITS = [unit("Precision = TP/(TP+FP)", 1), unit("Recall = TP/(TP+FN)", 2), unit("The F1 score is 2PR/(P+R).", 3)]


def test_a_backend_without_logits_has_no_selector() -> None:
    assert select(ScriptedGenerator("1"), "What is the formula for recall?", UNITS) is None
    assert select(ScriptedGenerator("1"), "anything", []) is None


def test_the_prompt_numbers_the_units_and_asks_for_one_number() -> None:
    prompt = selector_prompt("What is recall?", UNITS)
    assert "[2] (Metrics) Recall = TP/(TP+FN)" in prompt.user and "0 if none" in prompt.system


@pytest.mark.slow
def test_the_onnx_generator_reads_the_choice_from_its_logits(answerer) -> None:  # type: ignore[no-untyped-def]
    choice = select(answerer.generator, "What is the formula for recall?", UNITS)
    assert choice is not None and len(choice.probabilities) == 4
    assert abs(sum(choice.probabilities) - 1.0) < 1e-6 and all(0.0 <= p <= 1.0 for p in choice.probabilities)
    assert choice.best == 1  # the recall formula, on so plain a prompt
