"""Run questions through the answering pipeline (the one the HTTP service uses) and score each result."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from tqdm import tqdm

from eval import metrics
from eval.evidence_spans import EvidenceLocator
from eval.questions import Question
from service.pipeline.answering import Answer, Answerer
from service.pipeline.evidence import Evidence


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
    # scores (``grade``: recomputed from the fields above and the labels, so a relabelled set is re-scored offline)
    retrieval_rank: int | None = None  # in a separate top-RANKING_DEPTH search, so hit@10 means what it says
    ndcg10: float | None = None
    correct: bool = False  # answerable: the strict answer test (eval/metrics.answer_correct); unanswerable: abstained
    f1: float = 0.0
    citation_valid: bool | None = None  # answerable and answered: a cited unit's lines overlap the labelled evidence
    unit_top1: bool | None = None  # answerable: the first evidence unit holds an accepted phrase (before generation)
    unit_top3: bool | None = None  # ... one of the first three does
    unanswerable_type: str | None = None
    evidences: list[str] = field(default_factory=list)
    # how the answer was made: the evidence units shown, the raw draft, answer kind, answerability inputs
    evidence: list[dict[str, object]] = field(default_factory=list)
    draft: str = ""
    must_contain_any: list[str] = field(default_factory=list)
    answer_kind: str = "none"
    p_answerable: float | None = None
    signals: dict[str, float] = field(default_factory=dict)
    ranking: list[str] = field(default_factory=list)  # the top-RANKING_DEPTH passages (for re-scoring)


# Retrieval metrics (hit@1..10, MRR@10, nDCG@10) are read off a ranking this deep, not off the top-k passages
# handed to the generator: with k=4, "hit@5" would otherwise be hit@4.
RANKING_DEPTH = 10


def run_questions(answerer: Answerer, questions: Iterable[Question], top_k: int | None, progress: bool) -> list[Result]:
    results = []
    locator = EvidenceLocator(answerer.retriever.manifest.notes_root)
    for q in tqdm(list(questions), disable=not progress, unit="q"):
        scope = q.scope.to_scope() if q.scope else None
        ranking = [h.chunk.passage() for h in answerer.search(q.question, RANKING_DEPTH, scope)]
        results.append(grade(record(q, answerer.answer(q.question, top_k, scope=scope), ranking), q, locator))
    return results


def score(
    q: Question, answer: Answer, ranking: list[str] | None = None, locator: EvidenceLocator | None = None
) -> Result:
    """Record and grade one answer (``ranking``: passages of a deeper search; default: the hits)."""
    return grade(record(q, answer, ranking), q, locator or EvidenceLocator(None))


def record(q: Question, answer: Answer, ranking: list[str] | None = None) -> Result:
    """What the pipeline did for one question, ungraded."""
    return Result(
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
        evidence=[_unit_record(e) for e in answer.evidence],
        draft=answer.draft,
        answer_kind=answer.kind,
        p_answerable=answer.p_answerable,
        signals=answer.signals,
        ranking=ranking if ranking is not None else [h.chunk.passage() for h in answer.hits],
    )


def grade(r: Result, q: Question, locator: EvidenceLocator) -> Result:
    """Score a recorded result against its label (in place; also returned)."""
    passages = r.ranking or [str(p["text"]) for p in r.retrieved]
    r.kind, r.answerable, r.unanswerable_type = q.kind, q.answerable, q.unanswerable_type
    r.evidences, r.must_contain_any = q.evidences, list(q.must_contain_any)
    r.retrieval_rank = q.evidence_rank(passages) if q.answerable else None
    ideal = q.evidences if q.multi_hop else q.evidences[:1]  # places saying the same thing count once
    r.ndcg10 = metrics.ndcg_at_k(passages, q.evidences, 10, len(ideal)) if q.answerable and q.evidences else None
    r.f1, r.citation_valid, r.unit_top1, r.unit_top3 = 0.0, None, None, None
    if not q.answerable:
        r.correct = r.abstained
        return r
    r.correct = not r.abstained and q.answer_is_correct(r.answer)
    holds = [any(metrics.phrase_in(str(u["text"]), p, q.reference_answer) for p in q.accepted) for u in r.evidence]
    r.unit_top1, r.unit_top3 = any(holds[:1]), any(holds[:3])
    if not r.abstained:
        r.f1 = metrics.token_f1(r.answer, q.reference_answer)
        spans = [s for f, e in q.evidence_places if (s := locator.span(f, e))]
        r.citation_valid = any(s.overlaps(str(c["file"]), *_lines(c)) for c in r.citations for s in spans)
    return r


def _lines(c: dict[str, object]) -> tuple[int, int]:
    lines: list[int] = c["lines"]  # type: ignore[assignment]
    return int(lines[0]), int(lines[1])


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
