"""Versioned, atomically swapped index directory.

Layout: ``<root>/versions/<id>/`` holds one complete, immutable index; ``<root>/current`` is a symlink to the
served version. A new version is written under a temporary name, renamed into place, and only then is
``current`` swapped (``os.replace`` of a symlink is atomic), so a crash at any point leaves the previous
version intact and served.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from index.bm25 import Bm25Index
from index.chunk_files import read_chunks, write_chunks
from index.disk import IndexBusy as IndexBusy  # raised by `writer`; importers know it from here
from index.disk import exclusive, fsync_dir, link_or_copy
from index.hnsw import HnswIndex, HnswParams
from index.manifest import Manifest
from index.scope import Scope, allowed_rows
from ingest.types import AnswerUnit, Chunk, FileRecord

KEEP_VERSIONS = 3
UNITS_FROM_CHUNKER = 7  # versions chunked from then on store answer units and their vectors
SCOPES_REMEMBERED = 64  # per loaded version: each a row array (8 bytes a passage at most)


class IndexNotFound(RuntimeError):
    """No index has been built yet in this directory."""


class IndexUnreadable(RuntimeError):
    """The served index version could not be read (permissions, a damaged file): the server's state, not a bug."""


class IndexWriteFailed(RuntimeError):
    """A new version could not be written (disk full, permissions); the current version is unchanged."""


def new_version_id(fingerprint: str) -> str:
    """Sortable by creation time; the fingerprint's head tells versions of the same content apart at a glance."""
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f") + "-" + fingerprint[:8]


@dataclass
class Snapshot:
    """One loaded index version."""

    manifest: Manifest
    chunks: list[Chunk]
    index: HnswIndex
    bm25: Bm25Index
    files: dict[str, FileRecord]
    directory: Path
    unit_vectors: np.ndarray = field(
        default_factory=lambda: np.zeros((0, 0), dtype=np.float32)
    )  # chunks' units, in order
    _unit_offsets: np.ndarray | None = field(default=None, repr=False)
    _scoped: dict[Scope, np.ndarray] = field(default_factory=dict, repr=False)
    _scoped_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def rows_in(self, scope: Scope) -> np.ndarray:
        """The rows in ``scope`` (``NothingInScope`` when none), remembered for this version: a request checks its
        scope before answering and searches within it, and users repeat scopes; a version never changes."""
        with self._scoped_lock:
            rows = self._scoped.get(scope)
        if rows is None:
            rows = allowed_rows(self.chunks, scope)
            with self._scoped_lock:
                if len(self._scoped) >= SCOPES_REMEMBERED:
                    del self._scoped[next(iter(self._scoped))]  # the oldest
                self._scoped[scope] = rows
        return rows

    def units_of(self, row: int) -> tuple[tuple[AnswerUnit, ...], np.ndarray]:
        """The answer units of passage ``row`` and their vectors, as ingest computed them (nothing is embedded
        per question). An index from before answer units (chunker < 7) has none: the passage is then its one unit,
        with the passage's vector."""
        chunk = self.chunks[row]
        if self.manifest.chunker_version < UNITS_FROM_CHUNKER:
            return (AnswerUnit(chunk.text, chunk.start_line, chunk.end_line, "prose"),), self.index.vectors([row])
        if self._unit_offsets is None:
            self._unit_offsets = np.concatenate([[0], np.cumsum([len(c.units) for c in self.chunks])])
        start, end = int(self._unit_offsets[row]), int(self._unit_offsets[row + 1])
        return chunk.units, np.asarray(self.unit_vectors[start:end])

    def file_cache(self) -> tuple[list[Chunk], np.ndarray, np.ndarray]:
        """Every file's pre-dedup chunks, their vectors and their units' vectors, for incremental re-ingest."""
        chunks = read_chunks(self.directory / "cache_chunks.jsonl")
        vectors = np.load(self.directory / "cache_vectors.npy")
        units = self.directory / "cache_unit_vectors.npy"
        unit_vectors = np.load(units) if units.exists() else np.zeros((0, vectors.shape[1]), dtype=np.float32)
        return chunks, vectors, unit_vectors


class IndexStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    @property
    def current_link(self) -> Path:
        return self.root / "current"

    @property
    def report_path(self) -> Path:
        return self.root / "last-ingest-report.json"

    def write_report(self, report: dict[str, object]) -> None:
        """The latest ingest's per-file report (also for runs that changed nothing or failed)."""
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.report_path.with_suffix(f".tmp-{uuid.uuid4().hex[:6]}")
        tmp.write_text(json.dumps(report, indent=1))
        os.replace(tmp, self.report_path)

    @contextmanager
    def writer(self) -> Iterator[None]:
        """Exclusive right to write versions (one ingest or calibrate at a time; readers never wait)."""
        with exclusive(
            self.root / ".writer.lock", f"another ingest or calibrate is writing {self.root}; try again when it ends"
        ):
            yield

    def current_version(self) -> str | None:
        try:
            return os.readlink(self.current_link).rsplit("/", 1)[-1]
        except OSError:
            return None

    def current_manifest(self) -> Manifest | None:
        """The served version's manifest alone (None when there is none or it cannot be read)."""
        try:
            return Manifest.model_validate_json((self.current_link / "manifest.json").read_text())
        except (OSError, ValueError):
            return None

    def exists(self) -> bool:
        return (self.current_link / "manifest.json").exists()

    def load(self, params: HnswParams | None = None, version: str | None = None) -> Snapshot:
        """The current version, or ``version`` (one written but not yet made current)."""
        version = version or self.current_version()
        if version is None or not (self.root / "versions" / version / "manifest.json").exists():
            raise IndexNotFound(f"no index in {self.root}; run `notes-qa ingest` first")
        directory = self.root / "versions" / version
        manifest = Manifest.model_validate_json((directory / "manifest.json").read_text())
        params = params or HnswParams(manifest.hnsw_m, manifest.hnsw_ef_construction, manifest.hnsw_ef_search)
        files_raw = json.loads((directory / "files.json").read_text())
        return Snapshot(
            manifest=manifest,
            chunks=read_chunks(directory / "chunks.jsonl"),
            index=HnswIndex.load(directory / "hnsw.faiss", params),
            bm25=Bm25Index.load(directory / "bm25"),
            files={f["path"]: FileRecord(**f) for f in files_raw},
            directory=directory,
            unit_vectors=_load_vectors(directory / "unit_vectors.npy"),
        )

    def write(
        self,
        manifest: Manifest,
        chunks: list[Chunk],
        index: HnswIndex,
        bm25: Bm25Index,
        files: list[FileRecord],
        cache_chunks: list[Chunk],
        cache_vectors: np.ndarray,
        report: dict[str, object],
        unit_vectors: np.ndarray | None = None,
        cache_unit_vectors: np.ndarray | None = None,
        activate: bool = True,
    ) -> Path:
        """Write a complete new version and make it current (unless ``activate`` is False: then ``activate``
        swaps it in later, or the next write prunes it). Returns its directory."""
        versions = self.root / "versions"
        versions.mkdir(parents=True, exist_ok=True)
        tmp = versions / f".tmp-{manifest.version}-{uuid.uuid4().hex[:6]}"
        try:
            tmp.mkdir()
            index.save(tmp / "hnsw.faiss")
            bm25.save(tmp / "bm25")
            write_chunks(tmp / "chunks.jsonl", chunks)
            write_chunks(tmp / "cache_chunks.jsonl", cache_chunks)
            np.save(tmp / "cache_vectors.npy", cache_vectors)
            if unit_vectors is not None and cache_unit_vectors is not None:
                np.save(tmp / "unit_vectors.npy", unit_vectors)
                np.save(tmp / "cache_unit_vectors.npy", cache_unit_vectors)
            (tmp / "files.json").write_text(json.dumps([asdict(f) for f in files], indent=1))
            (tmp / "report.json").write_text(json.dumps(report, indent=1))
            (tmp / "manifest.json").write_text(manifest.model_dump_json(indent=1))  # last: marks completeness
            fsync_dir(tmp)
            final = versions / manifest.version
            os.rename(tmp, final)
        except (OSError, RuntimeError) as exc:  # faiss reports a failed write as RuntimeError
            shutil.rmtree(tmp, ignore_errors=True)
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise IndexWriteFailed(
                f"could not write the new index version ({reason}); the previous version is still served"
            ) from exc
        if activate:
            self.activate(manifest.version)
        return final

    def activate(self, version: str) -> None:
        """Make a complete written version current (atomic), then prune old ones."""
        if not (self.root / "versions" / version / "manifest.json").exists():
            raise IndexNotFound(f"no index version {version} in {self.root}")
        self._point_current_at(version)
        self._prune()

    def set_models(self, answerability: dict[str, Any], reader: dict[str, Any] | None = None) -> str:
        """Record a calibrated answerability model (and unit reader) as a new version: the current version's files,
        hard-linked, with a new manifest; swapped in like any other version. Served versions are never modified.
        Returns the new id."""
        with self.writer():
            current = self.current_version()
            if current is None or not self.exists():
                raise IndexNotFound(f"no index in {self.root}; run `notes-qa ingest` first")
            source = self.root / "versions" / current
            manifest = Manifest.model_validate_json((source / "manifest.json").read_text())
            manifest = manifest.model_copy(
                update={
                    "version": new_version_id(manifest.fingerprint),
                    "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
                    "answerability": answerability,
                    "reader": reader if reader is not None else manifest.reader,
                }
            )
            tmp = self.root / "versions" / f".tmp-{manifest.version}-{uuid.uuid4().hex[:6]}"
            shutil.copytree(source, tmp, copy_function=link_or_copy, ignore=shutil.ignore_patterns("manifest.json"))
            (tmp / "manifest.json").write_text(manifest.model_dump_json(indent=1))
            fsync_dir(tmp)
            os.rename(tmp, self.root / "versions" / manifest.version)
            self._point_current_at(manifest.version)
            self._prune()
            return manifest.version

    def discard(self, version: str) -> None:
        """Remove a written version that was never made current (an adaptation that did not help)."""
        if version != self.current_version():
            shutil.rmtree(self.root / "versions" / version, ignore_errors=True)

    def _point_current_at(self, version: str) -> None:
        link_tmp = self.root / f".current-{uuid.uuid4().hex[:6]}"
        os.symlink(f"versions/{version}", link_tmp)
        os.replace(link_tmp, self.current_link)
        fsync_dir(self.root)

    def _prune(self) -> None:
        """Drop interrupted writes and all but the newest few complete versions (never the current one)."""
        versions = self.root / "versions"
        current = self.current_version()
        for stale in versions.glob(".tmp-*"):
            shutil.rmtree(stale, ignore_errors=True)
        complete = sorted(p for p in versions.iterdir() if not p.name.startswith("."))
        for old in complete[:-KEEP_VERSIONS]:
            if old.name != current:
                shutil.rmtree(old, ignore_errors=True)


def _load_vectors(path: Path) -> np.ndarray:
    """Memory-mapped (a version never changes); an empty array when the version has none."""
    return np.load(path, mmap_mode="r") if path.exists() else np.zeros((0, 0), dtype=np.float32)
