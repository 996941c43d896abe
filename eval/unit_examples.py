"""Each answerable question's candidate answer units, as the service finds them (``service.pipeline.evidence``),
with the reader's features and a label per unit: does it hold an accepted answer phrase? What ``reader-cv``,
``tune-evidence`` and ``calibrate`` learn and measure on."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from eval import metrics
from eval.questions import Question
from service.pipeline import reader
from service.pipeline.evidence import Candidates, candidates


@dataclass(frozen=True)
class Example:
    question: Question
    found: Candidates
    x: np.ndarray
    y: np.ndarray  # 1: the unit holds an accepted phrase


def examples(answerer: Any, questions: Sequence[Question], top_k: int, answerable_only: bool = True) -> list[Example]:
    """Answerable questions with accepted phrases (all questions with ``answerable_only=False``: an unanswerable
    one's labels are all 0)."""
    out = []
    for q in questions:
        if answerable_only and (not q.answerable or not q.accepted):
            continue
        snapshot = answerer.retriever.snapshot()
        vector = answerer.retriever.embed_query(q.question, snapshot)
        hits = answerer.retriever.search_vector(q.question, vector, top_k, None, snapshot)
        found = candidates(q.question, hits, snapshot, vector)
        y = np.array([any(metrics.phrase_in(u.text, p, q.reference_answer) for p in q.accepted) for u in found.units])
        out.append(Example(q, found, reader.features(q.question, found, snapshot.bm25), y.astype(int)))
    return out
