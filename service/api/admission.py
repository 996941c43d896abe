"""Back-pressure for answers: at most N generating and M queued, the rest refused at once with a retry time;
each admitted answer runs on its own thread under a total deadline and stops when its client goes away.

The HTTP routes start an ``AnswerJob`` and read its events asynchronously. A refused request costs no thread and
no model time; a cancelled or timed-out answer closes the generator between tokens, and its slot is given back
only when generation has really stopped (so the next answer never queues behind a ghost).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

from index.scope import Scope
from index.search import Hit
from service.pipeline.answering import (
    Answer,
    AnswerCancelled,
    Answerer,
    AnswerTimeout,
    AnswerUnavailable,
    EvidenceFound,
    Token,
)
from service.pipeline.conversation import Turn
from service.pipeline.deadline import Deadline

Event = EvidenceFound | Token | Answer
POLL_S = 0.25  # how often a waiting consumer checks whether its client is still there
_DONE = object()


class Busy(Exception):
    """No room for another answer now; ``retry_after`` seconds is the estimated wait."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Admission:
    def __init__(self, max_running: int, max_waiting: int) -> None:
        self.max_running = max_running
        self.max_waiting = max_waiting
        self.running = 0
        self.waiting = 0
        self._cond = threading.Condition()
        self._mean_s = 5.0  # running mean of answer durations: the Retry-After estimate

    def busy(self) -> Busy | None:
        """Why there is no place now (``None``: there is one). Read without the lock: a hint, used to refuse
        early and cheaply; ``reserve`` decides."""
        if self.running + self.waiting < self.max_running + self.max_waiting:
            return None
        retry = self.retry_after()
        return Busy(f"busy: {self.running} answers being written and {self.waiting} waiting; retry in {retry} s", retry)

    def reserve(self) -> None:
        """Take a place in the queue, or raise ``Busy`` at once."""
        with self._cond:
            if (busy := self.busy()) is not None:
                raise busy
            self.waiting += 1

    def acquire(self, deadline: Deadline) -> None:
        """Wait (holding a reserved place) until an answer may start; raises when called off or out of time."""
        with self._cond:
            try:
                while self.running >= self.max_running:
                    if deadline.cancelled:
                        raise AnswerCancelled("called off while queued")
                    if deadline.expired:
                        raise AnswerTimeout(f"no answer within the {deadline.seconds:g} s deadline (queued)", ())
                    self._cond.wait(min(POLL_S, deadline.remaining()) or POLL_S)
            finally:
                self.waiting -= 1
            self.running += 1

    def release(self, seconds: float) -> None:
        with self._cond:
            self.running -= 1
            self._mean_s = 0.8 * self._mean_s + 0.2 * seconds
            self._cond.notify()

    def retry_after(self) -> int:
        """Seconds until a place is likely free: the queue ahead times the mean answer time, per generating slot."""
        ahead = self.running + self.waiting - self.max_running + 1
        return max(1, math.ceil(self._mean_s * max(ahead, 1) / self.max_running))


class AnswerJob:
    """One answer on its own thread; ``events()`` hands its events to the request's event loop."""

    def __init__(
        self,
        answerer: Answerer,
        admission: Admission,
        deadline: Deadline,
        question: str,
        top_k: int | None = None,
        history: Sequence[Turn] = (),
        scope: Scope | None = None,
    ) -> None:
        self.answerer = answerer
        self.admission = admission
        self.deadline = deadline
        self.args = (question, top_k, tuple(history))
        self.scope = scope
        self.sources: tuple[Hit, ...] = ()  # the passages behind the evidence, once found
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.finished = threading.Event()

    @classmethod
    def start(
        cls, answerer: Answerer, admission: Admission, deadline: Deadline, *args: Any, **kwargs: Any
    ) -> AnswerJob:
        """Reserve a place (``Busy`` when there is none) and start; call from the request's event loop. A scope
        without notes is refused first (``NothingInScope``), taking no place."""
        answerer.check_scope(kwargs.get("scope"))
        admission.reserve()
        job = cls(answerer, admission, deadline, *args, **kwargs)
        job._loop = asyncio.get_running_loop()
        threading.Thread(target=job._run, name="notes-qa-answer", daemon=True).start()
        return job

    def cancel(self) -> None:
        self.deadline.cancel()

    def _put(self, item: Any) -> None:
        assert self._loop is not None
        with contextlib.suppress(RuntimeError):  # the request's loop is gone (shutting down): nobody listens
            self._loop.call_soon_threadsafe(self._queue.put_nowait, item)

    def _run(self) -> None:
        try:
            self.admission.acquire(self.deadline)
        except BaseException as exc:
            self._put(exc)
            self._put(_DONE)
            self.finished.set()
            return
        started = time.monotonic()
        try:
            stream = self.answerer.stream(*self.args, deadline=self.deadline, scope=self.scope)
            try:
                for event in stream:
                    self._put(event)
                    if self.deadline.cancelled:
                        break
            finally:
                getattr(stream, "close", lambda: None)()  # stops the generator if we left early
        except BaseException as exc:
            self._put(exc)
        finally:
            self.admission.release(time.monotonic() - started)
            self._put(_DONE)
            self.finished.set()

    async def events(self, disconnected: Callable[[], Awaitable[bool]] | None = None) -> AsyncIterator[Event]:
        """The answer's events. Raises what the answer raised; ``AnswerTimeout`` when the deadline passes even
        if the generator is stuck inside one call; ``AnswerCancelled`` when ``disconnected()`` turns true."""
        getter: asyncio.Future[Any] | None = None
        checked = time.monotonic()
        try:
            while True:
                if getter is None:
                    getter = asyncio.ensure_future(self._queue.get())
                wait = max(0.01, min(POLL_S, self.deadline.remaining()))
                done, _ = await asyncio.wait({getter}, timeout=wait)
                if not done or time.monotonic() - checked >= POLL_S:  # a busy stream is checked as often
                    checked = time.monotonic()
                    if disconnected is not None and await disconnected():
                        self.cancel()
                        raise AnswerCancelled("the client went away")
                    if not done and self.deadline.expired:  # (a worker that is still producing checks it itself)
                        self.cancel()
                        raise AnswerTimeout(f"no answer within the {self.deadline.seconds:g} s deadline", self.sources)
                if not done:
                    continue
                item, getter = getter.result(), None
                if item is _DONE:
                    return
                if isinstance(item, BaseException):
                    raise item
                if isinstance(item, EvidenceFound):
                    self.sources = _unique_hits(item)
                yield item
        finally:
            if getter is not None:
                getter.cancel()

    async def result(self, disconnected: Callable[[], Awaitable[bool]] | None = None) -> Answer:
        """The final ``Answer`` (for a reply that is not streamed); raises as ``events`` does."""
        try:
            async for event in self.events(disconnected):
                if isinstance(event, Answer):
                    return event
        finally:
            self.cancel()  # whatever happened, this answer is over: its generator stops
        raise AnswerUnavailable("the answer ended without a result; retry", self.sources)


def _unique_hits(found: EvidenceFound) -> tuple[Hit, ...]:
    seen: dict[int, Hit] = {}
    for e in found.evidence:
        seen.setdefault(id(e.unit.hit), e.unit.hit)
    return tuple(seen.values())
