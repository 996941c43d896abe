"""Ingest a notes folder into a new index version, re-embedding only the files whose content changed."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from index.bm25 import Bm25Index
from index.hnsw import HnswIndex, HnswParams
from index.manifest import Manifest
from index.store import FileRecord, IndexStore, Snapshot, new_version_id
from ingest.chunking import CHUNKER_VERSION, ChunkingConfig, chunk_document
from ingest.cleaning import clean
from ingest.dedup import collapse_near_duplicates
from ingest.embedder import Embedder
from ingest.reading import Skipped, find_notes, read_note
from ingest.types import Chunk


class IngestError(RuntimeError):
    """Ingest cannot proceed; the previous index (if any) is left untouched."""


@dataclass(frozen=True)
class IngestConfig:
    chunking: ChunkingConfig = field(default_factory=ChunkingConfig)
    hnsw: HnswParams = field(default_factory=HnswParams)
    max_file_bytes: int = 5_000_000
    dedup_threshold: float = 0.7


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

    @contextmanager
    def timed(self, stage: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.stage_seconds[stage] = self.stage_seconds.get(stage, 0.0) + time.perf_counter() - started

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def run_ingest(
    notes_dir: Path,
    store: IndexStore,
    embedder: Embedder,
    config: IngestConfig,
    progress: bool = False,
    log: Callable[[str], None] = lambda _: None,
) -> IngestReport:
    """Build a new index version from ``notes_dir`` (one writer at a time: ``IndexBusy`` if another runs)."""
    if not notes_dir.is_dir():
        raise IngestError(f"notes folder not found: {notes_dir}")
    with store.writer():
        return _ingest(notes_dir, store, embedder, config, progress, log)


def _ingest(
    notes_dir: Path,
    store: IndexStore,
    embedder: Embedder,
    config: IngestConfig,
    progress: bool,
    log: Callable[[str], None],
) -> IngestReport:
    started = time.perf_counter()
    report = IngestReport(notes_dir=str(notes_dir))
    previous = _reusable_previous(store, embedder, config, log)
    old_chunks, old_vectors = previous.file_cache() if previous else ([], np.zeros((0, 0), np.float32))
    old_rows: dict[str, list[int]] = {}
    for row, chunk in enumerate(old_chunks):
        old_rows.setdefault(chunk.file, []).append(row)

    records: list[FileRecord] = []
    per_file: list[tuple[list[Chunk], np.ndarray | None]] = []  # vectors None => embed
    scraped: set[str] = set()
    with report.timed("read"):
        paths = find_notes(notes_dir)
    for path in paths:
        rel = path.relative_to(notes_dir).as_posix()
        try:
            with report.timed("read"):
                note = read_note(notes_dir, path, config.max_file_bytes)
            with report.timed("clean"):
                doc = clean(note.path, note.text)
            with report.timed("chunk"):
                chunks = chunk_document(doc, config.chunking)
            if not chunks:
                raise Skipped("empty after cleaning")
        except Skipped as why:
            report.files.append(FileOutcome(rel, "skipped", reason=str(why)))
            records.append(FileRecord(rel, "", "skipped", str(why)))
            continue
        except Exception as exc:  # a broken note must not stop the others
            report.files.append(FileOutcome(rel, "failed", reason=f"{type(exc).__name__}: {exc}"))
            records.append(FileRecord(rel, "", "failed", str(exc)))
            continue
        if doc.scraped:
            scraped.add(rel)
        prev = previous.files.get(rel) if previous else None
        reuse = prev is not None and prev.sha256 == note.sha256 and rel in old_rows
        vectors = old_vectors[old_rows[rel]] if reuse else None
        if reuse:
            chunks = [old_chunks[r] for r in old_rows[rel]]
        per_file.append((chunks, vectors))
        records.append(FileRecord(rel, note.sha256, "indexed", n_chunks=len(chunks)))
        report.files.append(FileOutcome(rel, "indexed", len(chunks), embedded=not reuse, encoding=note.encoding))

    all_chunks = [c for chunks, _ in per_file for c in chunks]
    if not all_chunks:
        store.write_report(report.as_dict())
        raise IngestError(f"no indexable notes (.md, .markdown, .txt) in {notes_dir}")
    fingerprint = _fingerprint(records, embedder.name, config)
    if previous and previous.manifest.fingerprint == fingerprint:
        report.changed = False
        report.version = previous.manifest.version
        report.chunks_total = len(all_chunks)
        report.chunks_indexed = previous.manifest.chunk_count
        report.seconds = time.perf_counter() - started
        store.write_report(report.as_dict())
        return report

    to_embed = [c.passage() for chunks, vecs in per_file if vecs is None for c in chunks]
    if to_embed:
        log(f"embedding {len(to_embed)} chunks with {embedder.name}")
    with report.timed("embed"):
        fresh = embedder.embed(to_embed, progress=progress) if to_embed else None
    vectors = _assemble_vectors(per_file, fresh)
    with report.timed("dedup"):
        kept = collapse_near_duplicates(all_chunks, frozenset(scraped), config.dedup_threshold)
    served = [chunk for _, chunk in kept]
    served_vectors = vectors[[row for row, _ in kept]]

    version = new_version_id(fingerprint)
    manifest = Manifest(
        version=version,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        embedder_name=embedder.name,
        embedder_backend=embedder.backend,
        dim=int(vectors.shape[1]),
        chunk_count=len(served),
        hnsw_m=config.hnsw.m,
        hnsw_ef_construction=config.hnsw.ef_construction,
        hnsw_ef_search=config.hnsw.ef_search,
        chunk_max_chars=config.chunking.max_chars,
        chunk_overlap_chars=config.chunking.overlap_chars,
        chunker_version=CHUNKER_VERSION,
        fingerprint=fingerprint,
        answerability=previous.manifest.answerability if previous else None,
    )
    report.version = version
    report.chunks_total = len(all_chunks)
    report.chunks_indexed = len(served)
    report.chunks_embedded = len(to_embed)
    report.seconds = time.perf_counter() - started
    with report.timed("index"):
        index = HnswIndex.build(served_vectors, config.hnsw)
        bm25 = Bm25Index.build([c.passage() for c in served])
    with report.timed("write"):
        store.write(manifest, served, index, bm25, records, all_chunks, vectors, report.as_dict())
    report.seconds = time.perf_counter() - started
    store.write_report(report.as_dict())
    return report


def _reusable_previous(
    store: IndexStore, embedder: Embedder, config: IngestConfig, log: Callable[[str], None]
) -> Snapshot | None:
    """The current version, if its vectors can be reused (same embedder and chunking); else None."""
    if not store.exists():
        return None
    try:
        snapshot = store.load()
    except Exception as exc:  # unreadable: rebuild from scratch rather than fail
        log(f"previous index unreadable ({exc}); rebuilding from scratch")
        return None
    m = snapshot.manifest
    same = (
        m.embedder_name == embedder.name
        and m.chunk_max_chars == config.chunking.max_chars
        and m.chunk_overlap_chars == config.chunking.overlap_chars
        and m.chunker_version == CHUNKER_VERSION
    )
    if not same:
        log("embedder or chunking settings changed; re-embedding everything")
        return None
    return snapshot


def _assemble_vectors(per_file: list[tuple[list[Chunk], np.ndarray | None]], fresh: np.ndarray | None) -> np.ndarray:
    """Each file's vectors in file order: reused ones as stored, new ones sliced from ``fresh`` in turn."""
    parts: list[np.ndarray] = []
    offset = 0
    for chunks, vecs in per_file:
        if vecs is None:
            assert fresh is not None
            vecs = fresh[offset : offset + len(chunks)]
            offset += len(chunks)
        parts.append(vecs)
    return np.ascontiguousarray(np.concatenate(parts), dtype=np.float32)


def _fingerprint(records: list[FileRecord], embedder_name: str, config: IngestConfig) -> str:
    h = hashlib.sha256()
    h.update(f"{embedder_name}|{CHUNKER_VERSION}|{config.chunking}|{config.hnsw}|{config.dedup_threshold}".encode())
    for r in sorted(records, key=lambda r: r.path):
        h.update(f"{r.path}|{r.sha256}|{r.status}|{r.reason}\n".encode())
    return h.hexdigest()
