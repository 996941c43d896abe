"""Whether this process can answer: models loaded and an index version served.

Loading is retried (at most every ``RETRY_S`` seconds, on the next request or readiness probe) after a failure, so
an API process started before the first ingest, or while the index was unreadable, becomes ready by itself once
the cause is gone; no restart needed (replicas and orchestrators start in any order).
"""

from __future__ import annotations

import logging
import threading
import time

from index.manifest import IndexMismatch
from index.store import IndexNotFound, IndexUnreadable
from ingest.types import ModelUnavailable
from service.api.observability import Metrics
from service.pipeline.answering import Answerer, AnswerUnavailable

log = logging.getLogger("notes_qa")
RETRY_S = 5.0
# Failures that are the server's state, not the user's input: reported as 503 with the reason. Anything else is a
# bug: a 500, logged with its traceback, never dressed up as "unavailable".
UNAVAILABLE = (IndexNotFound, IndexMismatch, IndexUnreadable, ModelUnavailable, AnswerUnavailable)


def public_reason(exc: BaseException) -> str:
    """The reason an API client is told: what to do, without server paths or addresses (those go to the log)."""
    if isinstance(exc, AnswerUnavailable):
        return exc.public
    if isinstance(exc, IndexNotFound):
        return "no index yet: run `notes-qa ingest` on the server"
    if isinstance(exc, IndexMismatch):
        return "the index does not match this server's models or settings: re-run `notes-qa ingest`"
    if isinstance(exc, ModelUnavailable):
        return "a model could not be loaded on the server (its log says why)"
    if isinstance(exc, IndexUnreadable):
        return "the index could not be read on the server (its log says why)"
    return "the server could not answer (its log says why)"


class Readiness:
    def __init__(self, answerer: Answerer, metrics: Metrics) -> None:
        self.answerer = answerer
        self.metrics = metrics
        self.ready = False
        self.error = "loading"
        self._lock = threading.Lock()
        self._last_try = float("-inf")

    def check(self) -> bool:
        """True when ready; otherwise try loading again if the last try is old enough (blocking, in a worker
        thread: call from sync routes and dependencies only)."""
        return self.ready or self.warm_up(force=False)

    def warm_up(self, force: bool = True) -> bool:
        with self._lock:
            if self.ready:
                return True
            if not force and time.monotonic() - self._last_try < RETRY_S:
                return False
            self._last_try = time.monotonic()
            started = time.perf_counter()
            try:
                self.answerer.warm_up()
            except UNAVAILABLE as exc:
                self.error = public_reason(exc)
                log.error("not ready: %s", exc)
                return False
            seconds = time.perf_counter() - started
            self.metrics.model_load.set(seconds)
            self.ready = True
            log.info("ready in %.1f s: index %s", seconds, self.answerer.retriever.manifest.version)
            return True
