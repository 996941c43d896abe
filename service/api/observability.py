"""Prometheus metrics, request ids and JSON logs.

Every HTTP request gets an id (the client's ``X-Request-ID`` if it sent a sane one, else a new one), echoed in the
response header and carried by every log line written while serving it. Metrics live in a registry per app, so
several apps in one process (tests) never share counters; scrape each replica's ``/metrics``.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from service.pipeline.answering import Answer

REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
_SANE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_LOG_FIELDS = ("method", "path", "route", "status", "duration_ms", "client")
SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40, 80)

log = logging.getLogger("notes_qa.access")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class Metrics:
    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.requests = Counter("notes_qa_http_requests", "HTTP requests", ["route", "method", "status"], registry=r)
        self.latency = Histogram(
            "notes_qa_http_request_duration_seconds", "HTTP request time, to the last byte", ["route", "method"],
            buckets=SECONDS, registry=r,
        )  # fmt: skip
        self.retrieval = Histogram(
            "notes_qa_retrieval_seconds", "retrieval time per question", buckets=SECONDS, registry=r
        )
        self.generation = Histogram(
            "notes_qa_generation_seconds", "generation time per answered question", buckets=SECONDS, registry=r
        )
        self.answers = Counter("notes_qa_answers", "questions answered or abstained", ["outcome"], registry=r)
        self.abstentions = Counter("notes_qa_abstentions", "'no answer found', by reason", ["reason"], registry=r)
        self.generator_failures = Counter("notes_qa_generator_failures", "generator unavailable", registry=r)
        self.model_load = Gauge("notes_qa_model_load_seconds", "time to load the models and index", registry=r)
        self.index_version = Gauge(
            "notes_qa_index_version_info", "the index version served (value 1)", ["version"], registry=r
        )
        self.index_chunks = Gauge("notes_qa_index_chunks", "passages in the served index version", registry=r)

    def observe_answer(self, answer: Answer) -> None:
        self.retrieval.observe(answer.timings_ms.get("retrieve", 0.0) / 1000)
        if answer.evidence:  # the generator ran (a fast fake may round its time to 0.0 ms)
            self.generation.observe(answer.timings_ms.get("generate", 0.0) / 1000)
        self.answers.labels("abstained" if answer.abstained else "answered").inc()
        if answer.abstained:
            self.abstentions.labels(answer.reason or "unknown").inc()

    def set_index(self, version: str, chunks: int) -> None:
        self.index_version.clear()
        self.index_version.labels(version).set(1)
        self.index_chunks.set(chunks)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class RequestContext:
    """ASGI middleware: request id in and out, one access log line and the HTTP metrics per request (measured to
    the last byte, so streamed answers count their whole length)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sent = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
        request_id = sent if _SANE_ID.match(sent) else uuid.uuid4().hex
        token = REQUEST_ID.set(request_id)
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                took = f"app;dur={(time.perf_counter() - started) * 1000:.1f}".encode()  # until the reply starts
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode("latin-1")),
                                      (b"server-timing", took)]  # fmt: skip
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            method = scope.get("method", "")
            self.metrics.requests.labels(route, method, str(status)).inc()
            self.metrics.latency.labels(route, method).observe(elapsed)
            client = scope.get("client")
            log.info(
                "%s %s %s",
                method,
                scope.get("path", ""),
                status,
                extra={
                    "method": method,
                    "path": scope.get("path", ""),
                    "route": route,
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 1),
                    "client": f"{client[0]}:{client[1]}" if client else None,
                },
            )
            REQUEST_ID.reset(token)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
            "request_id": getattr(record, "request_id", None) or REQUEST_ID.get(),
        }
        for key in _LOG_FIELDS:
            if (value := getattr(record, key, None)) is not None:
                payload[key] = value
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        return json.dumps(payload, ensure_ascii=False)


class _TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        record.request_id = REQUEST_ID.get()
        return super().format(record)


def configure_logging(log_format: str, level: str) -> None:
    """One stderr handler on the root logger; uvicorn's own access log is off (``RequestContext`` logs requests)."""
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(_TextFormatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"))
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers = []
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").disabled = True
