"""Drafts that are answers: degenerate drafts are never kept; a question asking for a list, formula or command
gets it; the quote fallback quotes whole structures, never a lead-in."""

from __future__ import annotations

import pytest

from index.search import Hit
from ingest.types import Chunk, UnitKind
from service.pipeline.evidence import Evidence, Unit
from service.pipeline.grounding import MAX_ANSWER_WORDS, check_draft, quote_answer


def ev(*units: tuple[str, UnitKind]) -> list[Evidence]:
    out = []
    for n, (text, kind) in enumerate(units, 1):
        hit = Hit(Chunk("n.md", "Topic", 10 * n, 10 * n + 9, text), 0.5, n)
        out.append(Evidence(n, Unit(text, "Topic", "n.md", "Topic", 10 * n, 10 * n + text.count("\n"), hit, 0,
                                    kind=kind), 1.0 - n / 10, 0.5))  # fmt: skip
    return out


LIST = ("Benefits of batch normalization:\n- more stable networks\n- higher learning rates\n- less overfitting", "list")
FORMULA = ("Recall is the share of real positives found: Recall = TP/(TP+FN)", "formula")
CODE = ("Run this on CI to install exactly what the lockfile says:\n\n```bash\nnpm ci\n```", "code")
PROSE = ("Cross entropy, also known as log loss, measures how far predicted probabilities are from labels.", "prose")


@pytest.mark.parametrize(
    ("question", "reply", "problem"),
    [
        ("What is cross entropy?", "Cross Entropy- also known as log loss [1] [2] [3] [4] [5] [24]", "cites notes"),
        ("How do I compute recall?", "To calculate recall you use the following formula: [1]", "lead-in"),
        ("How do I compute recall?", "Recall has two parts: 1. [1, 2]", "lead-in"),
        ("What is cross entropy loss?", "Cross entropy loss [1].", "restates the question"),
        (
            "What are the benefits of batch normalization?",
            "It benefits networks by normalizing layer inputs [1].",
            "list",
        ),
        ("How do I compute recall?", "Recall is the share of real positives found [1].", "formula"),
        (
            "How do I install exactly what the lockfile says on CI?",
            "Run the install that reads the lockfile [1].",
            "command",
        ),
    ],
)
def test_degenerate_and_structureless_drafts_are_never_kept(question: str, reply: str, problem: str) -> None:
    evidence = ev(PROSE) if "entropy" in question else ev(LIST if "benefits" in question else
                                                          FORMULA if "recall" in question else CODE)  # fmt: skip
    draft = check_draft(question, reply, evidence)
    assert not draft.kept and problem in (draft.problem or "")


def test_a_number_that_ends_a_draft_is_no_lead_in() -> None:
    assert check_draft(
        "How much faster is it?",
        "Pre-training is up to 7x faster, about 7.",
        ev(("up to 7x faster, about 7.", "prose")),
    ).kept


def test_drafts_that_give_the_structure_are_kept() -> None:
    assert check_draft("How do I compute recall?", "Recall = TP/(TP+FN) [1].", ev(FORMULA)).kept
    benefits = "It makes networks more stable and allows higher learning rates [1]."
    assert check_draft("What are the benefits of batch normalization?", benefits, ev(LIST)).kept
    assert check_draft("How do I install exactly what the lockfile says on CI?", "Run npm ci [1].", ev(CODE)).kept
    assert check_draft("What is a one-hot vector for mango?", "Mango is [0, 0, 1, 0, 0] [1].",
                       ev(("mango → [0, 0, 1, 0, 0]", "prose"))).kept  # fmt: skip


def test_a_list_below_the_unit_the_draft_rests_on_does_not_replace_it() -> None:
    evidence = ev(("There are two main models in Word2Vec: CBOW and Skip-gram.", "prose"),
                  ("- [Word2Vec Archive](https://code.google.com)\n- [LLM techniques](https://nvidia.com)", "list"))  # fmt: skip
    draft = check_draft("What are the two main models in Word2Vec?", "CBOW and Skip-gram [1].", evidence)
    assert draft.kept


def test_the_structure_asked_for_is_quoted_when_it_is_the_second_unit() -> None:
    evidence = ev(("Metrics like precision are used when a disease is rare.", "prose"), FORMULA)
    draft = check_draft("What is the formula for recall?", "Recall is used when positives are rare [1].", evidence)
    assert not draft.kept and draft.quote == 2 and "formula" in (draft.problem or "")
    assert quote_answer(evidence, draft.quote) == (f"“{FORMULA[0]}” [2]", (2,))


def test_the_quote_is_the_whole_structure_by_lines_within_the_word_limit() -> None:
    text, cited = quote_answer(ev(LIST))
    assert cited == (1,) and text == f"“{LIST[0]}” [1]"
    text, _ = quote_answer(ev(CODE))
    assert "npm ci" in text and "```" not in text and text.startswith("“Run this on CI")
    long_list = "Steps:\n" + "\n".join(f"- step {i} does a rather long thing with many words" for i in range(20))
    text, _ = quote_answer(ev((long_list, "list")))
    assert len(text.split()) <= MAX_ANSWER_WORDS + 1 and text.endswith("…” [1]") and "\n- step 0" in text
