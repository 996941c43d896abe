"""Aggregate per-question results into the metrics of a run (overall and by question kind)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from eval import metrics
from eval.runner import Result

_CITES = re.compile(r"\[\d{1,2}(?:\s*,\s*\d{1,2})*\]")  # [n] citations are not words of the answer


def _mean(values: Sequence[float]) -> float | None:
    return round(sum(values) / len(values), 4) if values else None


def summarize(results: Sequence[Result]) -> dict[str, float | int | None]:
    answerable = [r for r in results if r.answerable]
    unanswerable = [r for r in results if not r.answerable]
    with_evidence = [r for r in answerable if r.evidences]
    answered = [r for r in answerable if not r.abstained]
    totals = [r.latency_ms["total"] for r in results]
    generated = [r.latency_ms["total"] for r in results if r.latency_ms["generate"] > 0]
    out: dict[str, float | int | None] = {
        "questions": len(results),
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
    }
    for k in (1, 3, 5, 10):
        out[f"hit@{k}"] = _mean([metrics.hit_at_k(r.retrieval_rank, k) for r in with_evidence])
    out["mrr@10"] = _mean([metrics.reciprocal_rank(r.retrieval_rank, 10) for r in with_evidence])
    out["ndcg@10"] = _mean([r.ndcg10 or 0.0 for r in with_evidence])
    out["answer_correct"] = _mean([float(r.correct) for r in answerable])
    out["answer_f1"] = _mean([r.f1 for r in answerable])
    out["false_abstain"] = _mean([float(r.abstained) for r in answerable])
    out["noans_accuracy"] = _mean([float(r.correct) for r in unanswerable])
    out["overall_accuracy"] = _mean([float(r.correct) for r in results])
    out["citation_validity"] = _mean([float(bool(r.citation_valid)) for r in answered])
    out["unit_top1"] = _mean([float(bool(r.unit_top1)) for r in answerable])
    out["unit_top3"] = _mean([float(bool(r.unit_top3)) for r in answerable])
    out["answer_words_max"] = max(
        (len(_CITES.sub(" ", r.answer).split()) for r in results if not r.abstained), default=0
    )
    evidence = [r.latency_ms["retrieve"] for r in results]  # the evidence event is sent when retrieval ends
    out["evidence_p50_ms"] = round(metrics.percentile(evidence, 0.5), 1)
    out["evidence_p95_ms"] = round(metrics.percentile(evidence, 0.95), 1)
    out["quoted_answers"] = sum(r.answer_kind == "quote" and not r.abstained for r in results)
    out["latency_p50_ms"] = round(metrics.percentile(totals, 0.5), 1)
    out["latency_p95_ms"] = round(metrics.percentile(totals, 0.95), 1)
    out["latency_generated_p50_ms"] = round(metrics.percentile(generated, 0.5), 1)
    return out


def by_kind(results: Sequence[Result]) -> dict[str, dict[str, float | int | None]]:
    kinds = sorted({r.kind if r.answerable else f"unanswerable/{r.unanswerable_type}" for r in results})
    groups: dict[str, dict[str, float | int | None]] = {}
    for kind in kinds:
        members = [r for r in results if (r.kind if r.answerable else f"unanswerable/{r.unanswerable_type}") == kind]
        groups[kind] = {"n": len(members), "accuracy": _mean([float(r.correct) for r in members])}
        if members[0].answerable:
            groups[kind]["hit@5"] = _mean([metrics.hit_at_k(r.retrieval_rank, 5) for r in members])
    return groups
