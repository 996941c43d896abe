"""The question-answering routes: ``/ask``, ``/ask/stream`` (server-sent events) and ``/search``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, HTTPException
from sse_starlette.sse import EventSourceResponse, ServerSentEvent

from service.answering import Answer, AnswerUnavailable, EvidenceFound, Token
from service.deps import AnswererDep, MetricsDep, SettingsDep
from service.observability import Metrics
from service.readiness import UNAVAILABLE
from service.schemas import (
    AskRequest,
    AskResponse,
    EvidenceOut,
    QuestionRequest,
    SearchHit,
    SearchRequest,
    SearchResponse,
)
from service.settings import Settings

router = APIRouter(tags=["qa"])


def unavailable_detail(exc: Exception, metrics: Metrics) -> dict[str, Any]:
    """503 body: the reason, and when retrieval worked but generation failed, the passages it found."""
    if isinstance(exc, AnswerUnavailable):
        metrics.generator_failures.inc()
        return {"reason": exc.reason, "sources": [SearchHit.of(h).model_dump() for h in exc.hits]}
    return {"reason": str(exc), "sources": []}


@router.post("/ask", response_model=AskResponse, responses={503: {"description": "index, models or generator down"}})
def ask(body: AskRequest, answerer: AnswererDep, settings: SettingsDep, metrics: MetricsDep) -> AskResponse:
    """Answer from the notes, citing the passages used; or "no answer found"."""
    check_limits(body, settings)
    try:
        answer = answerer.answer(body.question, body.top_k, body.turns())
    except UNAVAILABLE as exc:
        raise HTTPException(status_code=503, detail=unavailable_detail(exc, metrics)) from exc
    metrics.observe_answer(answer)
    return AskResponse.of(answer)


@router.post("/ask/stream", response_class=EventSourceResponse)
def ask_stream(
    body: AskRequest, answerer: AnswererDep, settings: SettingsDep, metrics: MetricsDep
) -> EventSourceResponse:
    """The same answer as server-sent events: one `evidence` event (`{"evidence": [...]}`, before any token),
    `token` events, then one `answer` event (an `AskResponse`), or an
    `error` event (`{"detail", "sources"}`) when the index or the generator is unavailable."""
    check_limits(body, settings)

    def events() -> Iterator[ServerSentEvent]:
        try:
            for event in answerer.stream(body.question, body.top_k, body.turns()):
                if isinstance(event, EvidenceFound):
                    units = [EvidenceOut.of(e).model_dump() for e in event.evidence]
                    yield ServerSentEvent(json.dumps({"evidence": units}), event="evidence")
                elif isinstance(event, Token):
                    yield ServerSentEvent(json.dumps({"text": event.text}), event="token")
                elif isinstance(event, Answer):
                    metrics.observe_answer(event)
                    yield ServerSentEvent(AskResponse.of(event).model_dump_json(), event="answer")
        except UNAVAILABLE as exc:
            detail = unavailable_detail(exc, metrics)
            yield ServerSentEvent(json.dumps({"detail": detail["reason"], "sources": detail["sources"]}), event="error")

    return EventSourceResponse(events(), ping=15)


@router.post("/search", response_model=SearchResponse)
def search(body: SearchRequest, answerer: AnswererDep, settings: SettingsDep, metrics: MetricsDep) -> SearchResponse:
    """Ranked passages with cosine scores; no generation."""
    check_limits(body, settings)
    try:
        hits = answerer.search(body.question, body.top_k)
    except UNAVAILABLE as exc:
        raise HTTPException(status_code=503, detail=unavailable_detail(exc, metrics)) from exc
    return SearchResponse(hits=[SearchHit.of(h) for h in hits])


def check_limits(body: QuestionRequest, settings: Settings) -> None:
    """Limits that come from settings (the static ones live on the request model)."""
    if len(body.question) > settings.max_question_chars:
        raise HTTPException(
            status_code=422,
            detail=f"question is {len(body.question)} characters; the limit is {settings.max_question_chars}",
        )
    if body.top_k is not None and body.top_k > settings.max_top_k:
        raise HTTPException(status_code=422, detail=f"top_k must be between 1 and {settings.max_top_k}")
