"""Dense retrieval over the current index version, which is re-read when ingest swaps in a new one."""

from __future__ import annotations

import logging
import threading

import numpy as np

from index.hnsw import HnswParams
from index.manifest import IndexMismatch, Manifest
from index.scope import Scope
from index.search import Hit, RetrievalMode, search
from index.store import IndexNotFound, IndexStore, IndexUnreadable, Snapshot
from ingest.embedder import Embedder

log = logging.getLogger("notes_qa.retriever")


class Retriever:
    def __init__(
        self,
        store: IndexStore,
        embedder: Embedder,
        mode: RetrievalMode = "hybrid",
        ef_search: int | None = None,
    ) -> None:
        self.store = store
        self.mode = mode
        self.embedder = embedder
        self.ef_search = ef_search
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
        loaded.manifest.check_compatible(self.embedder.name, self.embedder.dim, self.embedder.backend)
        return loaded

    @property
    def manifest(self) -> Manifest:
        return self.snapshot().manifest

    def retrieve(self, question: str, k: int, scope: Scope | None = None) -> list[Hit]:
        """The top-k passages, only from ``scope`` when given (``NothingInScope`` when it holds none)."""
        return self.search_vector(question, self.embedder.embed([question])[0], k, scope)

    def search_vector(
        self, question: str, query: np.ndarray, k: int, scope: Scope | None = None, snapshot: Snapshot | None = None
    ) -> list[Hit]:
        """``retrieve`` with the question's embedding already computed (the caller reuses it), in ``snapshot``
        when given (one answer reads one version), else in the served one."""
        return search(snapshot or self.snapshot(), question, query, k, self.mode, scope)
