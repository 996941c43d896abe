"""`notes-qa tune-evidence`: choose the evidence-scoring weights on a question file, without generating.

For each answerable question the retrieved passages are cut into units once; each weight combination then ranks
the units, and a question counts as found when the best unit lies inside the expected evidence span or holds it.
"""

from __future__ import annotations

import argparse
import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np

from eval import metrics
from eval.questions import Question
from index import bm25
from service.evidence import Unit, question_terms, select_evidence, split_units

LEXICAL = (0.0, 0.15, 0.3, 0.5, 0.75, 1.0)
RANK_PRIOR = (0.0, 0.05, 0.1, 0.2)
LEAD = (0.0, 0.05, 0.1, 0.2)
BUDGETS = ((3, 450), (3, 600), (4, 600), (4, 750), (4, 900), (5, 1200))  # (max units, characters)


@dataclass(frozen=True)
class Candidates:
    question: Question
    units: list[Unit]
    cosine: np.ndarray
    overlap: np.ndarray
    rank: np.ndarray
    lead: np.ndarray


def gather(answerer: Any, questions: list[Question], top_k: int) -> list[Candidates]:
    out = []
    embedder = answerer.retriever.embedder
    for q in questions:
        if not q.answerable or not q.evidences:
            continue
        hits = answerer.search(q.question, top_k)
        units = [u for h in hits for u in split_units(h)]
        if not units:
            continue
        vectors = embedder.embed([q.question, *(u.display() for u in units)])
        terms = question_terms(q.question)
        out.append(
            Candidates(
                q,
                units,
                vectors[1:] @ vectors[0],
                np.array([len(terms & bm25.terms(u.display())) / len(terms) if terms else 0.0 for u in units]),
                np.array([1.0 / u.hit.rank for u in units]),
                np.array([1.0 if u.lead else 0.0 for u in units]),
            )
        )
    return out


def found(c: Candidates, weights: tuple[float, float, float]) -> bool:
    lexical, rank, lead = weights
    best = c.units[int(np.argmax(c.cosine + lexical * c.overlap + rank * c.rank + lead * c.lead))]
    text = metrics.normalize(best.text)
    return any(metrics.normalize(e) in metrics.normalize(best.display()) or text in metrics.normalize(e)
               for e in c.question.evidences)  # fmt: skip


def sweep(candidates: list[Candidates]) -> list[tuple[tuple[float, float, float], float]]:
    rows = []
    for weights in itertools.product(LEXICAL, RANK_PRIOR, LEAD):
        rows.append((weights, sum(found(c, weights) for c in candidates) / max(len(candidates), 1)))
    return sorted(rows, key=lambda r: -r[1])


def budget_rows(answerer: Any, questions: list[Question], top_k: int) -> list[tuple[int, int, float, float]]:
    """For each (max units, character budget): share of answerable questions whose expected evidence is among the
    selected units, and the mean characters of unit text the prompt carries (prefill time grows with it)."""
    embedder = answerer.retriever.embedder
    asked = [(q, answerer.search(q.question, top_k)) for q in questions if q.answerable and q.evidences]
    rows = []
    for units, budget in BUDGETS:
        held, chars = 0, 0
        for q, hits in asked:
            chosen = select_evidence(q.question, hits, embedder, max_units=units, char_budget=budget)
            chars += sum(len(e.unit.display()) for e in chosen)
            shown = [metrics.normalize(e.unit.display()) for e in chosen]
            held += any(metrics.normalize(e) in t or metrics.normalize(c.unit.text) in metrics.normalize(e)
                        for e in q.evidences for t, c in zip(shown, chosen, strict=True))  # fmt: skip
        rows.append((units, budget, held / max(len(asked), 1), chars / max(len(asked), 1)))
    return rows


def cmd_tune_evidence(settings: Any, args: argparse.Namespace, questions: list[Question]) -> int:
    from service.components import build_answerer

    answerer = build_answerer(settings)
    answerer.retriever.warm_up()
    candidates = gather(answerer, questions, args.top_k or settings.top_k)
    rows = sweep(candidates)
    print(f"{len(candidates)} answerable questions; best unit holds the evidence for:")
    for (lexical, rank, lead), share in rows[:10]:
        print(f"  lexical {lexical:<5} rank prior {rank:<5} lead {lead:<5} -> {share:.3f}")
    print("with the module's weights, the expected evidence is among the selected units for:")
    for units, budget, share, chars in budget_rows(answerer, questions, args.top_k or settings.top_k):
        print(f"  up to {units} units, {budget:>4} characters -> {share:.3f} (prompt carries {chars:.0f} characters)")
    return 0
