"""Run questions through the answering pipeline (the one the HTTP service uses) and score each result."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from tqdm import tqdm

from eval import metrics
from eval.questions import Question
from service.answering import Answer, Answerer
from service.evidence import Evidence


@dataclass
class Result:
    id: str
    question: str
    kind: str
    answerable: bool
    answer: str
    abstained: bool
    reason: str | None
    max_score: float
    citations: list[dict[str, object]]
    retrieved: list[dict[str, object]]
    latency_ms: dict[str, float]
    # scores
    retrieval_rank: int | None = None  # in a separate top-RANKING_DEPTH search, so hit@10 means what it says
    ndcg10: float | None = None
    correct: bool = False  # answerable: contains a must-contain phrase; unanswerable: abstained
    f1: float = 0.0
    citation_valid: bool | None = None  # answerable and answered: a cited passage holds the evidence
    unanswerable_type: str | None = None
    evidences: list[str] = field(default_factory=list)
    # how the answer was made: the evidence units shown, the raw draft, answer kind, answerability inputs
    evidence: list[dict[str, object]] = field(default_factory=list)
    draft: str = ""
    must_contain_any: list[str] = field(default_factory=list)
    answer_kind: str = "none"
    p_answerable: float | None = None
    signals: dict[str, float] = field(default_factory=dict)


# Retrieval metrics (hit@1..10, MRR@10, nDCG@10) are read off a ranking this deep, not off the top-k passages
# handed to the generator: with k=4, "hit@5" would otherwise be hit@4.
RANKING_DEPTH = 10


def run_questions(answerer: Answerer, questions: Iterable[Question], top_k: int | None, progress: bool) -> list[Result]:
    results = []
    for q in tqdm(list(questions), disable=not progress, unit="q"):
        scope = q.scope.to_scope() if q.scope else None
        ranking = [h.chunk.passage() for h in answerer.search(q.question, RANKING_DEPTH, scope)]
        results.append(score(q, answerer.answer(q.question, top_k, scope=scope), ranking))
    return results


def score(q: Question, answer: Answer, ranking: list[str] | None = None) -> Result:
    """Score one answer. ``ranking``: passages of a deeper search for the retrieval metrics (default: the hits)."""
    passages = ranking if ranking is not None else [h.chunk.passage() for h in answer.hits]
    rank = metrics.first_relevant_rank(passages, q.evidences) if q.answerable else None
    result = Result(
        id=q.id,
        question=q.question,
        kind=q.kind,
        answerable=q.answerable,
        answer=answer.text,
        abstained=answer.abstained,
        reason=answer.reason,
        max_score=max((h.score for h in answer.hits), default=0.0),
        citations=[
            {
                "n": c.n,
                "file": c.hit.chunk.file,
                "heading": c.hit.chunk.heading,
                "lines": [c.evidence.unit.start_line, c.evidence.unit.end_line],
                "score": round(c.hit.score, 4),
                "text": c.evidence.unit.text,
            }
            for c in answer.citations
        ],
        retrieved=[
            {
                "rank": h.rank,
                "file": h.chunk.file,
                "lines": [h.chunk.start_line, h.chunk.end_line],
                "score": round(h.score, 4),
                "text": h.chunk.passage(),
            }
            for h in answer.hits
        ],
        latency_ms={k: answer.timings_ms.get(k, 0.0) for k in ("retrieve", "generate", "total")},
        retrieval_rank=rank,
        ndcg10=metrics.ndcg_at_k(passages, q.evidences, 10) if q.answerable and q.evidences else None,
        unanswerable_type=q.unanswerable_type,
        evidences=q.evidences,
        evidence=[_unit_record(e) for e in answer.evidence],
        draft=answer.draft,
        must_contain_any=list(q.must_contain_any),
        answer_kind=answer.kind,
        p_answerable=answer.p_answerable,
        signals=answer.signals,
    )
    if q.answerable:
        result.correct = not answer.abstained and metrics.answer_contains(answer.text, q.must_contain_any)
        result.f1 = 0.0 if answer.abstained else metrics.token_f1(answer.text, q.reference_answer)
        if not answer.abstained:
            cited = [f"{c.hit.chunk.heading}\n{c.hit.chunk.text}" for c in answer.citations]
            result.citation_valid = any(metrics.contains_evidence(p, e) for p in cited for e in q.evidences)
    else:
        result.correct = answer.abstained
    return result


def _unit_record(e: Evidence) -> dict[str, object]:
    u = e.unit
    return {"n": e.n, "file": u.file, "lines": [u.start_line, u.end_line], "score": e.score, "text": u.text}


def write_results(results: list[Result], path: Path) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        for r in results:
            fh.write(json.dumps(asdict(r), ensure_ascii=False) + "\n")


def read_results(path: Path) -> list[Result]:
    with open(path, encoding="utf-8") as fh:
        known = {f.name for f in fields(Result)}  # runs written by other versions may carry other fields
        return [Result(**{k: v for k, v in json.loads(line).items() if k in known}) for line in fh if line.strip()]
