"""Build a new index version from a notes folder: ingest's steps (``ingest.pipeline``) composed with the index's
(HNSW, BM25, manifest, the versioned store). Only files whose content changed are re-embedded."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from index.bm25 import Bm25Index
from index.hnsw import HnswIndex, HnswParams
from index.manifest import Manifest
from index.store import IndexStore, Snapshot, new_version_id
from ingest.chunking import CHUNKER_VERSION, ChunkingConfig
from ingest.embedder import Embedder
from ingest.pipeline import IngestError, IngestReport, Reusable, collect, embed_and_collapse
from ingest.types import FileRecord


@dataclass(frozen=True)
class IngestConfig:
    chunking: ChunkingConfig = field(default_factory=ChunkingConfig)
    hnsw: HnswParams = field(default_factory=HnswParams)
    max_file_bytes: int = 5_000_000
    dedup_threshold: float = 0.7


@dataclass(frozen=True)
class AdaptedSpace:
    """An ingest with a fine-tuned embedder (`notes-qa adapt`): ``base_name`` is the configured embedder the notes'
    own fingerprint is taken with; ``record`` (the model's path relative to the index root, how it was made) goes
    to the manifest. The version is written but made current only by the caller, after its check."""

    base_name: str
    record: dict[str, Any]


def run_ingest(
    notes_dir: Path,
    store: IndexStore,
    embedder: Embedder,
    config: IngestConfig,
    progress: bool = False,
    log: Callable[[str], None] = lambda _: None,
    adapted: AdaptedSpace | None = None,
) -> IngestReport:
    """Build a new index version from ``notes_dir`` (one writer at a time: ``IndexBusy`` if another runs).

    Notes unchanged since the served version (whose vectors may come from an adapted embedder) change nothing."""
    if not notes_dir.is_dir():
        raise IngestError(f"notes folder not found: {notes_dir}")
    with store.writer():
        return _ingest(notes_dir, store, embedder, config, progress, log, adapted)


def _ingest(
    notes_dir: Path,
    store: IndexStore,
    embedder: Embedder,
    config: IngestConfig,
    progress: bool,
    log: Callable[[str], None],
    adapted: AdaptedSpace | None = None,
) -> IngestReport:
    started = time.perf_counter()
    report = IngestReport(notes_dir=str(notes_dir))
    served = store.current_manifest()
    previous = _reusable_previous(store, embedder, config, log)
    reusable = Reusable(previous.files, *previous.file_cache()) if previous else None
    collected = collect(notes_dir, config.chunking, config.max_file_bytes, reusable, report)
    if not collected.per_file:
        store.write_report(report.as_dict())
        raise IngestError(f"no indexable notes (.md, .markdown, .txt, .org, .html, .pdf) in {notes_dir}")
    fingerprint = _fingerprint(collected.records, embedder.name, config)
    kept = previous.manifest if previous and previous.manifest.fingerprint == fingerprint else None
    if served and served.adapter and not adapted and served.adapter.get("source_fingerprint") == fingerprint:
        kept = served  # the notes are as they were adapted: keep the adapted vectors
    if kept is not None:
        report.changed = False
        report.version = kept.version
        report.chunks_total = len(collected.chunks)
        report.chunks_indexed = kept.chunk_count
        report.seconds = time.perf_counter() - started
        store.write_report(report.as_dict())
        return report

    if served and served.adapter and not adapted:
        log(
            "the notes changed since `notes-qa adapt`: re-embedding with the configured embedder (adapt again to fit it)"
        )
    embedded = embed_and_collapse(collected, embedder, config.dedup_threshold, report, progress, log)
    version = new_version_id(fingerprint)
    manifest = Manifest(
        version=version,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        embedder_name=embedder.name,
        embedder_backend=embedder.backend,
        dim=int(embedded.vectors.shape[1]),
        chunk_count=len(embedded.served),
        hnsw_m=config.hnsw.m,
        hnsw_ef_construction=config.hnsw.ef_construction,
        hnsw_ef_search=config.hnsw.ef_search,
        chunk_max_chars=config.chunking.max_chars,
        chunk_overlap_chars=config.chunking.overlap_chars,
        chunker_version=CHUNKER_VERSION,
        fingerprint=fingerprint,
        answerability=served.answerability if served else None,
        reader=served.reader if served else None,
        adapter={**adapted.record, "source_fingerprint": _fingerprint(collected.records, adapted.base_name, config)}
        if adapted
        else None,
        notes_root=str(notes_dir.resolve()),
        obsidian_vault=notes_dir.resolve().name if (notes_dir / ".obsidian").is_dir() else None,
    )
    report.version = version
    report.chunks_total = len(embedded.chunks)
    report.chunks_indexed = len(embedded.served)
    report.chunks_embedded = embedded.n_embedded
    report.seconds = time.perf_counter() - started
    with report.timed("index"):
        if previous is not None:  # a large graph is updated (new passages added, removed ones tombstoned)
            index, report.graph_updated = previous.index.updated(embedded.served_vectors, config.hnsw)
        else:
            index = HnswIndex.build(embedded.served_vectors, config.hnsw)
        bm25 = Bm25Index.build([c.lexical_text() for c in embedded.served])
    with report.timed("write"):
        store.write(
            manifest,
            embedded.served,
            index,
            bm25,
            collected.records,
            embedded.chunks,
            embedded.vectors,
            report.as_dict(),
            embedded.served_unit_vectors,
            embedded.unit_vectors,
            activate=adapted is None,
        )
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
    if m.adapter and m.embedder_name != embedder.name:  # served from `notes-qa adapt`: kept if the notes are unchanged
        return None
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


def _fingerprint(records: list[FileRecord], embedder_name: str, config: IngestConfig) -> str:
    h = hashlib.sha256()
    h.update(f"{embedder_name}|{CHUNKER_VERSION}|{config.chunking}|{config.hnsw}|{config.dedup_threshold}".encode())
    for r in sorted(records, key=lambda r: r.path):
        h.update(f"{r.path}|{r.sha256}|{r.status}|{r.reason}\n".encode())
    return h.hexdigest()
