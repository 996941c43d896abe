"""Ingest on a generated vault: seconds and chunks/s per stage, peak RSS, re-ingest with nothing changed and with
one file changed, and whether the planted near-copies were collapsed (and nothing else merged)."""

from __future__ import annotations

import re
import tempfile
import threading
import zlib
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import chain, count
from pathlib import Path
from typing import Any

import numpy as np
import psutil

from eval.bench import vault
from index.build import IngestConfig, run_ingest
from index.store import IndexStore
from ingest.embedder import Embedder

_WORD = re.compile(r"\w+")


class WordHashEmbedder:
    """A stand-in with the shape of real embeddings at no model cost (feature hashing): each word adds ±1 to one of
    the dimensions, both picked by a hash of the word; the sum is normalised. Texts sharing words lie near each
    other, copies coincide, and common words give all vectors a shared direction: clustered, as sentence
    embeddings are. (Uniform random vectors, the HNSW worst case, took twice as long to index: 78 s for 94k
    chunks here, these 34 s.) Every stage but embedding is measured at full size."""

    backend = "word hashing"

    def __init__(self, dim: int = 384) -> None:
        self.name, self.dim = "stand-in", dim
        self._ids: defaultdict[str, int] = defaultdict(count().__next__)  # word -> id
        self._cells = np.zeros(0, dtype=np.int64)  # id -> dimension * 2 + (sign > 0)

    def warm_up(self) -> None:
        pass

    def embed(self, texts: list[str], progress: bool = False) -> np.ndarray:
        words = [_WORD.findall(t.lower()) or [""] for t in texts]
        lengths = np.fromiter(map(len, words), dtype=np.int64, count=len(texts))
        ids = np.fromiter((self._ids[w] for w in chain.from_iterable(words)), dtype=np.int64, count=int(lengths.sum()))
        new = list(self._ids)[len(self._cells) :]
        hashes = np.array([zlib.crc32(w.encode()) for w in new], dtype=np.int64)
        self._cells = np.concatenate([self._cells, (hashes % self.dim) * 2 + (hashes // self.dim) % 2])
        cells = self._cells[ids]
        x = np.bincount(np.repeat(np.arange(len(texts)), lengths) * self.dim + cells // 2,
                        weights=cells % 2 * 2.0 - 1, minlength=len(texts) * self.dim).reshape(len(texts), self.dim)  # fmt: skip
        x[:, 0] += np.linalg.norm(x, axis=1) == 0  # signs that cancel out: a fixed unit vector rather than zero
        return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


@contextmanager
def peak_rss() -> Iterator[dict[str, float]]:
    """Samples this process's RSS every 50 ms; ``result['peak_mb']`` once the block ends."""
    process = psutil.Process()
    result = {"start_mb": process.memory_info().rss / 1e6, "peak_mb": 0.0}
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            result["peak_mb"] = max(result["peak_mb"], process.memory_info().rss / 1e6)
            done.wait(0.05)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield result
    finally:
        done.set()
        thread.join()


def run(notes: int, embedder: Embedder, config: IngestConfig, notes_dir: Path, log: Any = print) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="notes-qa-bench-") as tmp:
        root = Path(tmp)
        generated = vault.generate(root / "vault", notes, vault.sentences(notes_dir))
        store = IndexStore(root / "index")
        with peak_rss() as rss:
            first = run_ingest(generated.root, store, embedder, config)
        unchanged = run_ingest(generated.root, store, embedder, config)
        edited = sorted(p for p in generated.root.rglob("*.md") if p.name not in generated.planted)[0]
        edited.write_text(edited.read_text() + "\n\nOne more sentence, added after the first ingest.\n")
        one_changed = run_ingest(generated.root, store, embedder, config)
        collapse = _collapse(store, generated)
    total = first.seconds
    row = {
        "notes": notes,
        "embedder": f"{embedder.name} ({embedder.backend})",
        "stand_in": isinstance(embedder, WordHashEmbedder),  # embedding is free: no target on shares
        "chunks": first.chunks_total,
        "chunks_indexed": first.chunks_indexed,
        "seconds": round(total, 1),
        "stages": {stage: _stage(s, first.chunks_total, total) for stage, s in first.stage_seconds.items()},
        "peak_rss_mb": round(rss["peak_mb"]),  # the bench process's, models of earlier sections included
        "rss_growth_mb": round(rss["peak_mb"] - rss["start_mb"]),  # what this ingest added at its peak
        "reingest_unchanged_s": round(unchanged.seconds, 2),
        "reingest_one_file_s": round(one_changed.seconds, 2),
        "reingest_one_file_embedded": one_changed.chunks_embedded,
        **collapse,
    }
    shares = ", ".join(f"{k} {v['share']:.0%}" for k, v in row["stages"].items())
    log(f"  ingest {notes:,} notes / {row['chunks']:,} chunks with {row['embedder']}: {total:.1f} s ({shares}); "
        f"RSS +{row['rss_growth_mb']} MB at peak; unchanged {row['reingest_unchanged_s']} s, one file "
        f"{row['reingest_one_file_s']} s; planted collapsed {collapse['planted_collapsed']:.1%}, "
        f"false merges {collapse['false_merges']}")  # fmt: skip
    return row


def _stage(seconds: float, chunks: int, total: float) -> dict[str, Any]:
    return {"seconds": round(seconds, 2), "chunks_per_s": round(chunks / seconds, 1) if seconds else None,
            "share": round(seconds / total, 3)}  # fmt: skip


def _collapse(store: IndexStore, generated: vault.Vault) -> dict[str, Any]:
    """Planted copies collapsed: the chunks of a copy (or of its original) dropped in favour of the other.
    False merges: a kept chunk that lists a duplicate in a file that is neither its copy nor its original."""
    snap = store.load()
    group = dict(generated.planted)  # a copy belongs with its original (and with other copies of it)
    all_chunks, _, _ = snap.file_cache()
    per_file: dict[str, int] = {}
    for c in all_chunks:
        per_file[c.file] = per_file.get(c.file, 0) + 1
    false_merges = 0
    for c in snap.chunks:
        false_merges += sum(group.get(loc.file, loc.file) != group.get(c.file, c.file) for loc in c.also_in)
    planted_chunks = sum(per_file.get(copy, 0) for copy in generated.planted)
    dropped = len(all_chunks) - len(snap.chunks)  # each planted chunk should be dropped once (copy or original)
    collapsed = min(dropped, planted_chunks)
    distinct_total = sum(n for f, n in per_file.items() if f not in generated.planted)
    return {
        "planted_copies": len(generated.planted),
        "planted_chunks": planted_chunks,
        "planted_collapsed": round(collapsed / planted_chunks, 4) if planted_chunks else 1.0,
        "false_merges": false_merges,
        "distinct_chunks": distinct_total,
    }
