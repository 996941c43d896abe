"""``notes-qa mcp``: the MCP server over stdio, what desktop assistants launch. Stdout carries the protocol and
nothing else: ingest's report and progress, logs and any child process's output go to stderr."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from types import SimpleNamespace
from typing import Any

import anyio

from service.api.admission import Admission
from service.api.mcp_server import Runtime, build_server
from service.api.observability import Metrics, configure_logging
from service.api.readiness import Readiness
from service.backends.components import build_answerer
from service.backends.first_use import ensure_index
from service.backends.settings import Settings
from service.pipeline.answering import Answerer


def run_stdio(settings: Settings) -> None:
    """``notes-qa mcp``: logs to stderr, the index built first when there is none (its output to stderr), then
    the server on stdin and stdout."""
    configure_logging(settings.log_format, settings.log_level)
    with stdout_to_stderr():
        ensure_index(settings)
    serve_stdio(settings)


def serve_stdio(settings: Settings, answerer: Answerer | None = None) -> None:
    """Serve until the client closes stdin. The models load in the background from the start; a call that comes
    first waits for them (tools/list and the handshake do not)."""
    metrics = Metrics()
    readiness = Readiness(answerer or build_answerer(settings), metrics)
    state = SimpleNamespace(
        readiness=readiness,
        admission=Admission(settings.max_running_answers, settings.max_waiting_answers),
        metrics=metrics,
    )

    @asynccontextmanager
    async def lifespan(_: Any) -> AsyncIterator[dict[str, Any]]:
        threading.Thread(target=readiness.warm_up, name="notes-qa-warm-up", daemon=True).start()
        yield {}

    server = build_server(Runtime(settings, lambda: state), lifespan)
    anyio.run(server.run_stdio_async)


@contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """Send everything written to stdout (by Python, by C libraries, by child processes) to stderr meanwhile: the
    work before the protocol starts must not write on the protocol's stream."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        os.dup2(2, 1)
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)
