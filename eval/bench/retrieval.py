"""Retrieval in-process on the bundled index, warm: each stage timed per question, against the naive script
(sentence-transformers MiniLM + exact numpy search over the same vectors) and FAISS flat, in the same run."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from eval.bench.timing import time_each
from eval.questions import load_questions
from index.search import search
from ingest.embedder import Embedder
from service.pipeline.retriever import Retriever

QUESTION_FILES = ("eval/questions/dev.jsonl", "eval/questions/test.jsonl")


def bench_questions(limit: int) -> list[str]:
    texts: list[str] = []
    for name in QUESTION_FILES:
        if Path(name).is_file():
            texts += [q.question for q in load_questions(Path(name))[0]]
    return texts[:limit]


def naive_script(retriever: Retriever, naive_embedder: Embedder, k: int) -> Callable[[str], object]:
    """The simplest possible search over the same vectors: embed with ``naive_embedder``, sort exact numpy scores."""
    snap = retriever.snapshot()
    data = snap.index.vectors(list(range(len(snap.index))))

    def search(question: str) -> object:
        return np.argsort(-(data @ naive_embedder.embed([question])[0]))[:k]

    return search


def run(retriever: Retriever, naive_embedder: Embedder, k: int, limit: int = 100, log: Any = print) -> dict[str, Any]:
    """``naive_embedder``: what the naive script embeds the question with (sentence-transformers, torch)."""
    retriever.warm_up()
    naive_embedder.warm_up()
    snap = retriever.snapshot()
    questions = bench_questions(limit)
    embed = retriever.embedder_for(snap).embed
    vectors = {q: embed([q])[0] for q in questions}
    data = snap.index.vectors(list(range(len(snap.index))))
    flat = faiss.IndexFlatIP(data.shape[1])
    flat.add(data)
    pool = max(k * 4, 20)
    stages = {
        "query embedding": time_each(lambda q: embed([q]), questions),
        "dense search (HNSW)": time_each(lambda q: snap.index.search(vectors[q], pool), questions),
        "BM25": time_each(lambda q: snap.bm25.search(q, pool), questions),
        "search: dense + BM25 + fusion": time_each(lambda q: search(snap, q, vectors[q], k, retriever.mode), questions),
        "total (retrieve)": time_each(lambda q: retriever.retrieve(q, k), questions),
        "baseline: exact numpy search": time_each(lambda q: np.argsort(-(data @ vectors[q]))[:k], questions),
        "baseline: FAISS flat search": time_each(lambda q: flat.search(vectors[q].reshape(1, -1), k), questions),
    }
    stages["baseline: naive script (embed + numpy)"] = time_each(naive_script(retriever, naive_embedder, k), questions)
    for name, t in stages.items():
        log(f"  retrieval  {name:<40} p50 {t.p50_ms:8.3f} ms  p95 {t.p95_ms:8.3f} ms")
    total, baseline = stages["total (retrieve)"], stages["baseline: naive script (embed + numpy)"]
    return {
        "chunks": len(snap.index),
        "questions": len(questions),
        "k": k,
        "mode": retriever.mode,
        "stages": {name: t.as_dict() for name, t in stages.items()},
        "total_vs_naive": round(total.p50_ms / baseline.p50_ms, 3),
        "embedder": f"{retriever.embedder.name} ({retriever.embedder.backend})",
        "naive_p50_ms": baseline.p50_ms,
    }
