"""FastAPI app factory: ``create_app(settings)``; models are loaded once by the lifespan into ``app.state``."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, HTTPException
from fastapi.concurrency import run_in_threadpool
from fastapi.middleware.cors import CORSMiddleware
from sse_starlette.sse import EventSourceResponse, ServerSentEvent

from index.manifest import IndexMismatch
from index.store import IndexNotFound
from ingest.embedder import ModelUnavailable
from service.answering import Answer, Answerer, Token
from service.components import build_answerer
from service.deps import AnswererDep, SettingsDep
from service.schemas import (
    AskRequest,
    AskResponse,
    Health,
    QuestionRequest,
    Ready,
    SearchHit,
    SearchRequest,
    SearchResponse,
)
from service.settings import Settings
from service.widget import add_widget_routes

log = logging.getLogger("notes_qa")

# Failures that are the server's state, not the user's input: reported as 503 with the reason.
UNAVAILABLE = (IndexNotFound, IndexMismatch, ModelUnavailable, RuntimeError)


def create_app(settings: Settings, answerer: Answerer | None = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.settings = settings
        app.state.answerer = answerer or build_answerer(settings)
        app.state.ready = False
        try:
            await run_in_threadpool(app.state.answerer.warm_up)
            app.state.ready = True
        except UNAVAILABLE as exc:
            app.state.load_error = str(exc)
            log.error("not ready: %s", exc)
        yield

    app = FastAPI(
        title="notes-qa",
        version="0.1.0",
        summary="Grounded answers from your own notes, with citations, or 'no answer found'.",
        lifespan=lifespan,
    )

    # Pages on other origins (a site embedding widget.js) may call the API only when listed; the default empty
    # list leaves same-origin use only, and the middleware answers a refused preflight with a clear 400.
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_methods=["GET", "POST"],
        allow_headers=["Content-Type", "Accept"],
        max_age=600,
    )
    add_widget_routes(app)

    @app.get("/health", response_model=Health, tags=["ops"])
    def health() -> Health:
        """Liveness: the process is up."""
        return Health(status="ok")

    @app.get("/ready", response_model=Ready, tags=["ops"], responses={503: {"model": Ready}})
    def ready() -> Ready:
        """Readiness: index loaded and models warm."""
        state = app.state
        if not getattr(state, "ready", False):
            detail = getattr(state, "load_error", "loading")
            raise HTTPException(status_code=503, detail=Ready(ready=False, detail=detail).model_dump())
        a: Answerer = state.answerer
        manifest = a.retriever.manifest
        return Ready(
            ready=True,
            index_version=manifest.version,
            chunks=manifest.chunk_count,
            embedder=manifest.embedder_name,
            generator=a.generator.name,
            threshold=a.threshold,
        )

    @app.post("/ask", response_model=AskResponse, tags=["qa"])
    def ask(body: AskRequest, answerer: AnswererDep, settings: SettingsDep) -> AskResponse:
        """Answer from the notes, citing the passages used; or "no answer found"."""
        _check_limits(body, settings)
        try:
            return AskResponse.of(answerer.answer(body.question, body.top_k, body.turns()))
        except UNAVAILABLE as exc:
            raise HTTPException(status_code=503, detail=str(exc)) from exc

    @app.post("/ask/stream", tags=["qa"], response_class=EventSourceResponse)
    def ask_stream(body: AskRequest, answerer: AnswererDep, settings: SettingsDep) -> EventSourceResponse:
        """The same answer as server-sent events: `token` events, then one `answer` event (an `AskResponse`)."""
        _check_limits(body, settings)

        def events() -> Iterator[ServerSentEvent]:
            try:
                for event in answerer.stream(body.question, body.top_k, body.turns()):
                    if isinstance(event, Token):
                        yield ServerSentEvent(json.dumps({"text": event.text}), event="token")
                    elif isinstance(event, Answer):
                        yield ServerSentEvent(AskResponse.of(event).model_dump_json(), event="answer")
            except UNAVAILABLE as exc:
                yield ServerSentEvent(json.dumps({"detail": str(exc)}), event="error")

        return EventSourceResponse(events(), ping=15)

    @app.post("/search", response_model=SearchResponse, tags=["qa"])
    def search(body: SearchRequest, answerer: AnswererDep, settings: SettingsDep) -> SearchResponse:
        """Ranked passages with cosine scores; no generation."""
        _check_limits(body, settings)
        try:
            hits = answerer.search(body.question, body.top_k)
        except UNAVAILABLE as exc:
            raise HTTPException(status_code=503, detail=str(exc)) from exc
        return SearchResponse(hits=[SearchHit.of(h) for h in hits])

    return app


def _check_limits(body: QuestionRequest, settings: Settings) -> None:
    """Limits that come from settings (the static ones live on the request model)."""
    if len(body.question) > settings.max_question_chars:
        raise HTTPException(
            status_code=422,
            detail=f"question is {len(body.question)} characters; the limit is {settings.max_question_chars}",
        )
    if body.top_k is not None and body.top_k > settings.max_top_k:
        raise HTTPException(status_code=422, detail=f"top_k must be between 1 and {settings.max_top_k}")
