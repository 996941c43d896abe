"""The grounding policy: everything that decides what an answer may rest on and may say, in one frozen object —
how many evidence units and characters the generator sees, the answerability cut, the length and structure rules a
draft must meet, the refusal patterns that mark a reply as "the notes do not say". Built from ``Settings`` by the
wiring (``service.backends.components``) and passed down; nothing in the pipeline reads settings."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# A reply that says the notes do not answer (only when it cites nothing: "not covered [2]" is an answer).
REFUSAL = re.compile(
    r"(no answer found|(do|does|did) not (contain|mention|provide|state|include|specify|say)|"
    r"not (mentioned|provided|stated|specified|included|covered)|no (information|mention)|"
    r"(cannot|can't|unable to) (answer|determine|find)|i (don't|do not) know)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Weights:
    """The hand-set unit score (cosine + lexical overlap + a retrieval-rank prior + a first-under-its-heading
    bonus): the reader's baseline, chosen by `notes-qa tune-evidence` on tune.jsonl."""

    lexical: float = 0.75
    rank_prior: float = 0.05
    lead: float = 0.1


@dataclass(frozen=True)
class GroundingPolicy:
    # Evidence: at most this many units and characters of unit text go into the prompt (prefill time grows with the
    # prompt); the first unit always goes in whole. `tune-evidence` on tune.jsonl: 3 units / 600 characters.
    max_units: int = 3
    char_budget: int = 600
    # The answerability model's verdict: answer when P(answerable) is at least this (the probability's midpoint).
    decision_probability: float = 0.5
    # Answers: at most this many words; a list, formula or command the question asks for is looked for among the
    # best `structure_units` units and must be in the draft.
    max_answer_words: int = 60
    structure_units: int = 2
    refusal: re.Pattern[str] = REFUSAL
    weights: Weights = field(default_factory=Weights)
