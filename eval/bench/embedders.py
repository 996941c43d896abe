"""Embedder backends in one run: chunks/s on generated note passages (interleaved rounds), query embedding p50/p95,
and agreement with torch fp32 (cosine on the bundled chunks, top-5 retrieval overlap on the eval questions)."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from eval.bench import vault
from eval.bench.retrieval import QUESTION_FILES, bench_questions
from eval.bench.timing import time_each
from ingest.chunking import ChunkingConfig, chunk_document
from ingest.cleaning import clean
from ingest.embedder import Embedder
from ingest.reading import find_notes, read_note


def passages(notes_dir: Path) -> list[str]:
    out: list[str] = []
    for path in find_notes(notes_dir):
        note = read_note(notes_dir, path, 5_000_000)
        out += [c.passage() for c in chunk_document(clean(note.path, note.text), ChunkingConfig())]
    return out


class Remembering:
    """A backend that returns the vector it already made for a text: the agreement check and the hit@5 index embed
    the same bundled chunks, once."""

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder
        self.name, self.backend, self.dim = embedder.name, embedder.backend, embedder.dim  # warmed up by now
        self._vectors: dict[str, np.ndarray] = {}

    def warm_up(self) -> None:
        self.embedder.warm_up()

    def embed(self, texts: list[str], progress: bool = False) -> np.ndarray:
        missing = list(dict.fromkeys(t for t in texts if t not in self._vectors))
        if missing:
            self._vectors.update(zip(missing, self.embedder.embed(missing, progress), strict=True))
        return np.array([self._vectors[t] for t in texts], dtype=np.float32).reshape(len(texts), self.dim)


def run(
    embedders: dict[str, Embedder], notes_dir: Path, sample: int, rounds: int = 3, log: Any = print
) -> dict[str, Any]:
    """``embedders`` maps a label to a backend; the first is the reference (torch fp32). Throughput is timed in
    ``rounds`` interleaved rounds (each backend once per round, who goes first rotating): a machine that slows down
    for a while slows every backend's run in that round, so the speed-up is the median of the per-round ratios, the
    rate the median rate."""
    with tempfile.TemporaryDirectory(prefix="notes-qa-bench-") as tmp:
        generated = vault.generate(Path(tmp), max(sample // 7, 1), vault.sentences(notes_dir))
        texts = passages(generated.root)[:sample]
    bundled = passages(notes_dir)
    questions = bench_questions(100)
    warm_s: dict[str, float] = {}
    for label, embedder in embedders.items():
        started = time.perf_counter()
        embedder.warm_up()
        embedder.embed(texts[:8])  # first-call allocations are not throughput
        warm_s[label] = time.perf_counter() - started
    rates: dict[str, list[float]] = {label: [] for label in embedders}
    labels = list(embedders)
    for turn in range(rounds):
        for label in labels[turn % len(labels) :] + labels[: turn % len(labels)]:  # who goes first rotates
            started = time.perf_counter()
            embedders[label].embed(texts)  # all at once, as an ingest does (per-call costs stay out)
            rates[label].append(len(texts) / (time.perf_counter() - started))
    reference_label = next(iter(embedders))
    rows: dict[str, Any] = {}
    reference: tuple[np.ndarray, np.ndarray] | None = None
    for label, embedder in embedders.items():
        rate = float(np.median(rates[label]))
        ratios = [r / base for r, base in zip(rates[label], rates[reference_label], strict=True)]
        query = time_each(lambda q, e=embedder: e.embed([q]), questions)  # type: ignore[misc]
        remembering = Remembering(embedder)
        chunk_vectors, question_vectors = remembering.embed(bundled), embedder.embed(questions)
        row: dict[str, Any] = {
            "backend": embedder.backend, "name": embedder.name, "warm_up_s": round(warm_s[label], 2),
            "chunks_per_s": round(rate, 1), "chunks_per_s_rounds": [round(r, 1) for r in rates[label]],
            "speedup": round(float(np.median(ratios)), 2), "speedup_rounds": [round(r, 2) for r in ratios],
            "query": query.as_dict(),
        }  # fmt: skip
        if reference is None:
            reference = (chunk_vectors, question_vectors)
        cosines = (chunk_vectors * reference[0]).sum(axis=1)
        row["cosine_min"], row["cosine_mean"] = round(float(cosines.min()), 5), round(float(cosines.mean()), 5)
        row["top5_overlap"] = round(_top5_overlap(chunk_vectors @ question_vectors.T, reference[0] @ reference[1].T), 3)
        row["hit@5"] = _hit_at_5(remembering, notes_dir)
        rows[label] = row
        log(f"  embedder {label:<10} {rate:7.1f} chunks/s (×{row['speedup']}, rounds {row['speedup_rounds']})  "
            f"query p50 {query.p50_ms:6.2f} ms  cosine min {row['cosine_min']:.4f}  "
            f"top-5 overlap {row['top5_overlap']:.3f}  hit@5 {row['hit@5']}")  # fmt: skip
    return {
        "sample_chunks": len(texts), "rounds": rounds, "bundled_chunks": len(bundled), "questions": len(questions),
        "backends": rows,
    }  # fmt: skip


def _top5_overlap(scores: np.ndarray, reference: np.ndarray) -> float:
    """Mean share of each question's top-5 chunks (by the reference) that the backend also ranks top-5."""
    top = np.argsort(-scores, axis=0)[:5].T
    ref = np.argsort(-reference, axis=0)[:5].T
    return float(np.mean([len(set(a) & set(b)) / 5 for a, b in zip(top, ref, strict=True)]))


def _hit_at_5(embedder: Embedder, notes_dir: Path) -> dict[str, float]:
    """The product's hybrid retrieval hit@5 on each eval set, on an index this backend built."""
    from eval.metrics import first_relevant_rank, hit_at_k
    from eval.questions import load_questions
    from index.build import IngestConfig, run_ingest
    from index.store import IndexStore
    from service.pipeline.retriever import Retriever

    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="notes-qa-bench-") as tmp:
        store = IndexStore(Path(tmp))
        run_ingest(notes_dir, store, embedder, IngestConfig())
        retriever = Retriever(store, embedder, "hybrid")
        for name in QUESTION_FILES:
            questions = [q for q in load_questions(Path(name))[0] if q.answerable and q.evidences]
            ranks = [
                first_relevant_rank([h.chunk.passage() for h in retriever.retrieve(q.question, 10)], q.evidences)
                for q in questions
            ]
            out[Path(name).stem] = round(float(np.mean([hit_at_k(r, 5) for r in ranks])), 3)
    return out
