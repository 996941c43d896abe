"""Ingest's own steps: read, clean and chunk every note (reusing the previous version's chunks and vectors for
files whose content did not change), then embed the new chunks and collapse near-duplicates. Writing an index
version from the result is the index stage's job (``index.build``): this module imports no other stage."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ingest.chunking import ChunkingConfig, chunk_document
from ingest.cleaning import clean
from ingest.dedup import collapse_near_duplicates
from ingest.embedder import Embedder
from ingest.reading import Skipped, find_notes, read_note
from ingest.types import Chunk, FileRecord


class IngestError(RuntimeError):
    """Ingest cannot proceed; the previous index (if any) is left untouched."""


@dataclass
class FileOutcome:
    path: str
    status: str  # indexed | skipped | failed
    n_chunks: int = 0
    reason: str = ""
    embedded: bool = False  # False: chunks and vectors reused from the previous version
    encoding: str = "utf-8"  # how the file was decoded (detected when it is not UTF-8)


@dataclass
class IngestReport:
    notes_dir: str
    files: list[FileOutcome] = field(default_factory=list)
    version: str | None = None
    changed: bool = True
    chunks_total: int = 0
    chunks_indexed: int = 0
    chunks_embedded: int = 0
    seconds: float = 0.0
    stage_seconds: dict[str, float] = field(default_factory=dict)  # read, clean, chunk, embed, dedup, index, write
    graph_updated: bool = False  # the previous version's HNSW graph was updated in place of a rebuild

    @contextmanager
    def timed(self, stage: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.stage_seconds[stage] = self.stage_seconds.get(stage, 0.0) + time.perf_counter() - started

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class Reusable:
    """What the previous version holds: each file's record and every file's pre-dedup chunks with their vectors."""

    files: dict[str, FileRecord]
    chunks: list[Chunk]
    vectors: np.ndarray
    unit_vectors: np.ndarray  # every cached chunk's answer units, in order (empty before answer units)


@dataclass
class Collected:
    """Every note read, cleaned and chunked; a file's vectors are ``None`` when it must be embedded."""

    records: list[FileRecord]
    per_file: list[tuple[list[Chunk], np.ndarray | None, np.ndarray | None]]  # chunks, their and their units' vectors
    scraped: frozenset[str]

    @property
    def chunks(self) -> list[Chunk]:
        return [c for chunks, _, _ in self.per_file for c in chunks]


@dataclass(frozen=True)
class Embedded:
    """All chunks with their vectors (file order), and the ones to index after near-duplicate collapse."""

    chunks: list[Chunk]
    vectors: np.ndarray
    served: list[Chunk]
    served_vectors: np.ndarray
    n_embedded: int
    unit_vectors: np.ndarray  # every chunk's answer units, in order
    served_unit_vectors: np.ndarray  # the served chunks' units, in order


def collect(
    notes_dir: Path, chunking: ChunkingConfig, max_file_bytes: int, reusable: Reusable | None, report: IngestReport
) -> Collected:
    """Read, clean and chunk every note under ``notes_dir``; a file whose content is unchanged since ``reusable``
    keeps its chunks and vectors. One broken note is reported and skipped, never fatal."""
    previous = reusable
    old_chunks = previous.chunks if previous else []
    old_rows: dict[str, list[int]] = {}
    for row, chunk in enumerate(old_chunks):
        old_rows.setdefault(chunk.file, []).append(row)
    old_units = _unit_rows(old_chunks)
    units_cached = previous is not None and len(previous.unit_vectors) == int(old_units[-1])

    records: list[FileRecord] = []
    per_file: list[tuple[list[Chunk], np.ndarray | None, np.ndarray | None]] = []  # vectors None => embed
    scraped: set[str] = set()
    with report.timed("read"):
        paths = find_notes(notes_dir)
    for path in paths:
        rel = path.relative_to(notes_dir).as_posix()
        try:
            with report.timed("read"):
                note = read_note(notes_dir, path, max_file_bytes)
            prev = previous.files.get(rel) if previous else None
            if previous and prev and prev.sha256 == note.sha256 and rel in old_rows and units_cached:
                # unchanged since the previous version: its chunks and vectors as they are, no cleaning or chunking
                chunks = [old_chunks[r] for r in old_rows[rel]]
                vectors, is_scraped = previous.vectors[old_rows[rel]], prev.scraped
                unit_vectors = previous.unit_vectors[
                    np.concatenate([np.arange(old_units[r], old_units[r + 1]) for r in old_rows[rel]]).astype(int)
                ]
            else:
                with report.timed("clean"):
                    doc = clean(note.path, note.text, note.modified)
                with report.timed("chunk"):
                    chunks = chunk_document(doc, chunking)
                if not chunks:
                    raise Skipped("empty after cleaning")
                vectors, unit_vectors, is_scraped = None, None, doc.scraped
        except Skipped as why:
            report.files.append(FileOutcome(rel, "skipped", reason=str(why)))
            records.append(FileRecord(rel, "", "skipped", str(why)))
            continue
        except Exception as exc:  # a broken note must not stop the others
            report.files.append(FileOutcome(rel, "failed", reason=f"{type(exc).__name__}: {exc}"))
            records.append(FileRecord(rel, "", "failed", str(exc)))
            continue
        if is_scraped:
            scraped.add(rel)
        per_file.append((chunks, vectors, unit_vectors))
        records.append(FileRecord(rel, note.sha256, "indexed", n_chunks=len(chunks), scraped=is_scraped))
        report.files.append(FileOutcome(rel, "indexed", len(chunks), embedded=vectors is None, encoding=note.encoding))
    return Collected(records, per_file, frozenset(scraped))


def embed_and_collapse(
    collected: Collected,
    embedder: Embedder,
    dedup_threshold: float,
    report: IngestReport,
    progress: bool = False,
    log: Callable[[str], None] = lambda _: None,
) -> Embedded:
    """Embed the chunks of changed files and their answer units, then collapse near-duplicates across files."""
    all_chunks = collected.chunks
    new_chunks = [c for chunks, vecs, _ in collected.per_file if vecs is None for c in chunks]
    to_embed = [c.passage() for c in new_chunks]
    displays = list(dict.fromkeys(u.display() for c in new_chunks for u in c.units))  # each distinct unit once
    if to_embed:
        log(f"embedding {len(to_embed)} chunks and {len(displays)} answer units with {embedder.name}")
    with report.timed("embed"):
        fresh = embedder.embed(to_embed, progress=progress) if to_embed else None
        fresh_units = embedder.embed(displays, progress=progress) if displays else None
    vectors = _assemble([(len(chunks), vecs) for chunks, vecs, _ in collected.per_file], fresh)
    where = {d: i for i, d in enumerate(displays)}
    unit_rows = [where[u.display()] for c in new_chunks for u in c.units]
    fresh_by_unit = fresh_units[unit_rows] if fresh_units is not None else None
    per_file_units = [(sum(len(c.units) for c in chunks), uv) for chunks, _, uv in collected.per_file]
    unit_vectors = _assemble(per_file_units, fresh_by_unit, vectors.shape[1])
    with report.timed("dedup"):
        kept = collapse_near_duplicates(all_chunks, collected.scraped, dedup_threshold)
    served = [chunk for _, chunk in kept]
    offsets = _unit_rows(all_chunks)
    served_units = [i for row, _ in kept for i in range(int(offsets[row]), int(offsets[row + 1]))]
    return Embedded(
        all_chunks,
        vectors,
        served,
        vectors[[row for row, _ in kept]],
        len(to_embed),
        unit_vectors,
        unit_vectors[np.array(served_units, dtype=int)],
    )


def _unit_rows(chunks: list[Chunk]) -> np.ndarray:
    """Where each chunk's units start in the flat list of all units (and, last, their count)."""
    return np.concatenate([[0], np.cumsum([len(c.units) for c in chunks], dtype=np.int64)]).astype(np.int64)


def _assemble(per_file: list[tuple[int, np.ndarray | None]], fresh: np.ndarray | None, dim: int = 0) -> np.ndarray:
    """Each file's vectors in file order: reused ones as stored, new ones sliced from ``fresh`` in turn."""
    parts: list[np.ndarray] = []
    offset = 0
    for count, vecs in per_file:
        if vecs is None:
            assert fresh is not None or count == 0
            vecs = fresh[offset : offset + count] if fresh is not None else np.zeros((0, dim), dtype=np.float32)
            offset += count
        parts.append(vecs)
    if not parts or all(len(p) == 0 for p in parts):
        width = dim or (parts[0].shape[1] if parts and parts[0].ndim == 2 else 0)
        return np.zeros((0, width), dtype=np.float32)
    return np.ascontiguousarray(np.concatenate([p for p in parts if len(p)]), dtype=np.float32)
