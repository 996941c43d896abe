"""`notes-qa tune-evidence`: choose the evidence-scoring weights on a question file, without generating.

For each answerable question the retrieved passages' stored answer units are scored once per signal
(``service.pipeline.evidence.candidates``, the very function the service uses); each weight combination then ranks them
through ``Candidates.scores``, and a question counts as found when the best unit holds an accepted answer phrase
(the eval's unit top-1)."""

from __future__ import annotations

import argparse
import itertools
from typing import Any

from eval.questions import Question
from eval.unit_examples import Example, examples
from service.backends.settings import Settings
from service.pipeline.evidence import choose
from service.pipeline.policy import Weights

LEXICAL = (0.0, 0.15, 0.3, 0.5, 0.75, 1.0)
RANK_PRIOR = (0.0, 0.05, 0.1, 0.2)
LEAD = (0.0, 0.05, 0.1, 0.2)
BUDGETS = ((3, 450), (3, 600), (4, 600), (4, 750), (4, 900), (5, 1200))  # (max units, characters)


def gather(answerer: Any, questions: list[Question], top_k: int) -> list[Example]:
    return [e for e in examples(answerer, questions, top_k) if e.found.units]


def top1(asked: Example, weights: Weights) -> bool:
    return bool(asked.y[int(asked.found.scores(weights).argmax())])


def sweep(asked: list[Example]) -> list[tuple[Weights, float]]:
    rows = []
    for lexical, rank, lead in itertools.product(LEXICAL, RANK_PRIOR, LEAD):
        w = Weights(lexical, rank, lead)
        rows.append((w, sum(top1(a, w) for a in asked) / max(len(asked), 1)))
    return sorted(rows, key=lambda r: -r[1])


def budget_rows(asked: list[Example]) -> list[tuple[int, int, float, float]]:
    """For each (max units, character budget): share of answerable questions with an answer-holding unit among the
    selected ones, and the mean characters of unit text the prompt carries (prefill time grows with it)."""
    rows = []
    for units, budget in BUDGETS:
        held, chars = 0, 0
        for a in asked:
            chosen = choose(a.found, a.found.scores(), units, budget)
            chars += sum(len(e.unit.display()) for e in chosen)
            held += any(bool(a.y[a.found.units.index(e.unit)]) for e in chosen)
        rows.append((units, budget, held / max(len(asked), 1), chars / max(len(asked), 1)))
    return rows


def cmd_tune_evidence(settings: Settings, args: argparse.Namespace, questions: list[Question]) -> int:
    from service.backends.components import build_answerer

    answerer = build_answerer(settings)
    answerer.retriever.warm_up()
    asked = gather(answerer, questions, args.top_k or settings.top_k)
    rows = sweep(asked)
    print(f"{len(asked)} answerable questions; the best unit holds an accepted answer phrase for:")
    for w, share in rows[:10]:
        print(f"  lexical {w.lexical:<5} rank prior {w.rank_prior:<5} lead {w.lead:<5} -> {share:.3f}")
    print(f"  (the module's weights {Weights()} -> {sum(top1(a, Weights()) for a in asked) / max(len(asked), 1):.3f})")
    print("with the module's weights, an answer-holding unit is among the selected units for:")
    for units, budget, share, chars in budget_rows(asked):
        print(f"  up to {units} units, {budget:>4} characters -> {share:.3f} (prompt carries {chars:.0f} characters)")
    return 0
