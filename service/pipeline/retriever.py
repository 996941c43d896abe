"""Dense retrieval over the current index version, which is re-read when ingest swaps in a new one.

A version built by `notes-qa adapt` records its own fine-tuned embedder: questions against it are embedded with
that model (loaded once, when the version is loaded), so one answer uses one version's vector space throughout."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np

from index.hnsw import HnswParams
from index.manifest import IndexMismatch, Manifest
from index.scope import Scope
from index.search import Hit, RetrievalMode, search
from index.store import IndexNotFound, IndexStore, IndexUnreadable, Snapshot
from ingest.embedder import Embedder, SentenceTransformerEmbedder

log = logging.getLogger("notes_qa.retriever")


class Retriever:
    def __init__(
        self,
        store: IndexStore,
        embedder: Embedder,
        mode: RetrievalMode = "hybrid",
        ef_search: int | None = None,
        adapted: Callable[[Path, str], Embedder] = SentenceTransformerEmbedder,
    ) -> None:
        self.store = store
        self.mode = mode
        self.embedder = embedder  # the configured one; an adapted version brings its own
        self.ef_search = ef_search
        self._adapted_factory = adapted
        self._adapted: dict[Path, Embedder] = {}  # model directory -> loaded embedder (the served version's)
        self._snapshot: Snapshot | None = None
        self._unloadable: str | None = None  # a version that failed to load: not retried until `current` moves
        self._lock = threading.Lock()

    def warm_up(self) -> None:
        self.embedder.warm_up()
        self.snapshot()

    def snapshot(self) -> Snapshot:
        """The served version; swapped for the new one when ``current`` points elsewhere (one readlink per call).

        Requests already holding the old snapshot finish on it. A new version that cannot be loaded (incompatible,
        or pruned while being read) is logged and the old one stays served."""
        current = self.store.current_version()
        snap = self._snapshot
        if snap is None or (current is not None and current not in (snap.manifest.version, self._unloadable)):
            with self._lock:
                if self._snapshot is None or self._snapshot.manifest.version != current:
                    try:
                        self._snapshot = self._load()
                        self._unloadable = None
                    except (IndexNotFound, IndexMismatch):
                        if self._snapshot is None:
                            raise
                        self._unloadable = current
                        log.error("index version %s not compatible; still serving %s", current,
                                  self._snapshot.manifest.version)  # fmt: skip
                    except (OSError, ValueError, RuntimeError) as exc:
                        if self._snapshot is None:
                            raise IndexUnreadable(f"index version {current} could not be read: {exc}") from exc
                        self._unloadable = current
                        log.error(
                            "index version %s not loaded (%s); still serving %s",
                            current,
                            exc,
                            self._snapshot.manifest.version,
                        )
                snap = self._snapshot
        assert snap is not None
        return snap

    def _load(self) -> Snapshot:
        loaded = self.store.load()
        if self.ef_search:
            m = loaded.manifest
            loaded.index.params = HnswParams(m.hnsw_m, m.hnsw_ef_construction, self.ef_search)
        embedder = self._load_embedder(loaded.manifest)
        loaded.manifest.check_compatible(embedder.name, embedder.dim, embedder.backend)
        return loaded

    def _load_embedder(self, manifest: Manifest) -> Embedder:
        """The configured embedder, or the adapted one the version records (loaded now, before it is served)."""
        if not manifest.adapter:
            return self.embedder
        path = self.store.root / str(manifest.adapter["model"])
        embedder = self._adapted.get(path)
        if embedder is None:
            embedder = self._adapted_factory(path, manifest.embedder_name)
            embedder.warm_up()
            # the served version's and the one before (answers still on it finish there); older ones are dropped
            self._adapted = {**dict(list(self._adapted.items())[-1:]), path: embedder}
        return embedder

    def embedder_for(self, snapshot: Snapshot) -> Embedder:
        """The embedder whose vectors ``snapshot`` holds: questions searched in it are embedded with this."""
        if not snapshot.manifest.adapter:
            return self.embedder
        path = self.store.root / str(snapshot.manifest.adapter["model"])
        embedder = self._adapted.get(path)
        if embedder is None:  # a request still on a version older than the one loaded since: load it again
            with self._lock:
                embedder = self._load_embedder(snapshot.manifest)
        return embedder

    def embed_query(self, question: str, snapshot: Snapshot) -> np.ndarray:
        return self.embedder_for(snapshot).embed([question])[0]

    def reader_name(self) -> str:
        """What reads the questions now, for /ready: the configured embedder, or the version's adapted one."""
        adapter = self.manifest.adapter
        return (
            f"adapted ({adapter.get('pairs', '?')} question pairs, {adapter.get('created_at', '?')})"
            if adapter
            else "packaged"
        )

    @property
    def manifest(self) -> Manifest:
        return self.snapshot().manifest

    def retrieve(self, question: str, k: int, scope: Scope | None = None) -> list[Hit]:
        """The top-k passages, only from ``scope`` when given (``NothingInScope`` when it holds none)."""
        snapshot = self.snapshot()
        return self.search_vector(question, self.embed_query(question, snapshot), k, scope, snapshot)

    def search_vector(
        self, question: str, query: np.ndarray, k: int, scope: Scope | None = None, snapshot: Snapshot | None = None
    ) -> list[Hit]:
        """``retrieve`` with the question's embedding already computed (the caller reuses it), in ``snapshot``
        when given (one answer reads one version), else in the served one."""
        return search(snapshot or self.snapshot(), question, query, k, self.mode, scope)
