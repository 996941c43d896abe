"""FastAPI app factory: ``create_app(settings)``; models are loaded once by the lifespan into ``app.state``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool
from fastapi.middleware.cors import CORSMiddleware

from service.api.admission import Admission
from service.api.errors import install_error_handlers
from service.api.mcp_http import McpEndpoint
from service.api.observability import Metrics, RequestContext
from service.api.openai_compat import router as openai_router
from service.api.ops_routes import router as ops_router
from service.api.qa_routes import router as qa_router
from service.api.readiness import Readiness
from service.api.security import Guard, KeyRing
from service.api.widget import add_widget_routes
from service.backends.components import build_answerer
from service.backends.heap import return_freed_memory_promptly
from service.backends.settings import Settings
from service.pipeline.answering import Answerer


def create_app(settings: Settings, answerer: Answerer | None = None) -> FastAPI:
    metrics = Metrics()
    keys = KeyRing(settings)
    mcp = McpEndpoint(settings)  # the MCP server at /mcp (streamable HTTP), behind the same middleware

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        keys.load()
        return_freed_memory_promptly()
        app.state.settings = settings
        app.state.metrics = metrics
        app.state.admission = Admission(settings.max_running_answers, settings.max_waiting_answers)
        app.state.answerer = answerer or build_answerer(settings)
        app.state.readiness = Readiness(app.state.answerer, metrics)
        await run_in_threadpool(app.state.readiness.warm_up)
        async with mcp.running(app.state):
            yield

    app = FastAPI(
        title="notes-qa",
        version="0.1.0",
        summary="Grounded answers from your own notes, with citations, or 'no answer found'.",
        lifespan=lifespan,
        max_body_size=settings.max_body_bytes,  # refused with 413 as it arrives, before any parsing
    )
    # Outermost last: request context → CORS (preflights never need a key) → Host, keys and rate limit.
    app.add_middleware(Guard, settings=settings, keys=keys)
    # Pages on other origins (a site embedding widget.js) may call the API only when listed; the default empty
    # list leaves same-origin use only, and the middleware answers a refused preflight with a clear 400.
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_methods=["GET", "POST"],
        allow_headers=["Content-Type", "Accept", "Authorization", "X-Request-ID"],
        expose_headers=["X-Request-ID"],
        max_age=600,
    )
    app.add_middleware(RequestContext, metrics=metrics)  # outermost: ids and timings cover everything
    install_error_handlers(app, metrics)
    app.include_router(ops_router)
    app.include_router(qa_router)
    app.include_router(openai_router)
    add_widget_routes(app)
    app.router.routes.extend(mcp.routes)
    return app


def create_app_from_env() -> FastAPI:
    """Factory for ``uvicorn --factory`` and ``notes-qa serve --workers N``: settings from NOTES_QA_* variables."""
    from service.api.observability import configure_logging

    settings = Settings()
    configure_logging(settings.log_format, settings.log_level)
    return create_app(settings)
