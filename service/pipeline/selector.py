"""The generator as a selector: one prefill over the numbered candidate units, then the next-token probabilities
of "1".."k" (which unit answers) and of "0" (none does). A backend that exposes no logits (an OpenAI-compatible
server, the transformers backend) has no selector: ``select`` returns None and the reader's choice stands.

Measured on tune.jsonl (`python -m eval.selector_trial`, README "What the reader tried") and not in the answer
path by default: see ``service.pipeline.reader`` for the picker that is."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from service.pipeline.evidence import Unit
from service.pipeline.generation import Generator, Prompt

SYSTEM = "Below are numbered notes. Reply with the number of the note that answers the question, or 0 if none does."


@runtime_checkable
class Chooser(Protocol):
    def choose(self, prompt: Prompt, options: int) -> list[float] | None: ...


@dataclass(frozen=True)
class Selection:
    probabilities: tuple[float, ...]  # P("0") — none answers —, then P("1") .. P("k")

    @property
    def best(self) -> int:
        """0-based index of the most likely unit."""
        ranked = self.probabilities[1:]
        return max(range(len(ranked)), key=ranked.__getitem__)

    @property
    def none(self) -> float:
        return self.probabilities[0]


def selector_prompt(question: str, units: Sequence[Unit]) -> Prompt:
    notes = "\n".join(f"[{n}] {u.display()}" for n, u in enumerate(units, 1))
    return Prompt(SYSTEM, f"Notes:\n{notes}\n\nQuestion: {question.strip()}\nWhich note answers it (0 if none)?")


def select(generator: Generator, question: str, units: Sequence[Unit]) -> Selection | None:
    """The generator's choice among ``units`` (at most 9), or None when its backend exposes no logits."""
    if not units or not isinstance(generator, Chooser):
        return None
    probabilities = generator.choose(selector_prompt(question, units[:9]), min(len(units), 9))
    return Selection(tuple(probabilities)) if probabilities else None
