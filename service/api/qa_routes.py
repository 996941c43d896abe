"""The question-answering routes: ``/ask``, ``/ask/stream`` (server-sent events) and ``/search``."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

from fastapi import APIRouter, HTTPException, Request, Response
from sse_starlette.sse import EventSourceResponse, ServerSentEvent

from service.api.admission import AnswerJob
from service.api.deps import AdmissionDep, AnswererDep, MetricsDep, SettingsDep
from service.api.errors import SERVED, problem_of
from service.api.schemas import (
    AskRequest,
    AskResponse,
    EvidenceOut,
    QuestionRequest,
    SearchHit,
    SearchRequest,
    SearchResponse,
)
from service.backends.settings import Settings
from service.pipeline.answering import Answer, AnswerCancelled, EvidenceFound, Token
from service.pipeline.deadline import Deadline

router = APIRouter(tags=["qa"])


def start_job(answerer: AnswererDep, admission: AdmissionDep, settings: SettingsDep, body: AskRequest) -> AnswerJob:
    """Admit the answer (``Busy`` at once when the queue is full) and start it under its deadline."""
    check_limits(body, settings)
    return AnswerJob.start(answerer, admission, Deadline(settings.answer_timeout_s), body.question, body.top_k,
                           body.turns(), scope=body.scope_filter())  # fmt: skip


@router.post(
    "/ask",
    response_model=AskResponse,
    responses={
        503: {"description": "busy (with Retry-After), or index, models or generator down"},
        504: {"description": "no answer within the deadline; the passages found so far"},
        404: {"description": "the scope holds no notes"},
    },
)
async def ask(body: AskRequest, request: Request, answerer: AnswererDep, admission: AdmissionDep,
              settings: SettingsDep, metrics: MetricsDep) -> Response:  # fmt: skip
    """Answer from the notes, citing the passages used; or "no answer found"."""
    job = start_job(answerer, admission, settings, body)
    answer = await job.result(request.is_disconnected)  # failures: service/api/errors.py
    metrics.observe_answer(answer)
    return Response(AskResponse.of(answer).model_dump_json(), media_type="application/json")


@router.post("/ask/stream", response_class=EventSourceResponse)
async def ask_stream(body: AskRequest, answerer: AnswererDep, admission: AdmissionDep, settings: SettingsDep,
                     metrics: MetricsDep) -> EventSourceResponse:  # fmt: skip
    """The same answer as server-sent events: one `evidence` event (`{"evidence": [...]}`, before any token),
    `token` events, then one `answer` event (an `AskResponse`), or an `error` event (`{"detail", "sources"}`)
    when the index or the generator is unavailable or the deadline passed. A client that disconnects stops
    the generation."""
    job = start_job(answerer, admission, settings, body)

    async def events() -> AsyncIterator[ServerSentEvent]:
        try:
            async for event in job.events():
                if isinstance(event, EvidenceFound):
                    units = [EvidenceOut.of(e).model_dump() for e in event.evidence]
                    yield ServerSentEvent(json.dumps({"evidence": units}), event="evidence")
                elif isinstance(event, Token):
                    yield ServerSentEvent(json.dumps({"text": event.text}), event="token")
                elif isinstance(event, Answer):
                    metrics.observe_answer(event)
                    yield ServerSentEvent(AskResponse.of(event).model_dump_json(), event="answer")
        except AnswerCancelled:
            return
        except SERVED as exc:  # the stream has started: the problem is its last event
            problem = problem_of(exc, metrics)
            yield ServerSentEvent(json.dumps({"detail": problem.reason, "sources": problem.sources}), event="error")
        finally:
            job.cancel()  # the client went away (the response is cancelled) or we are done: stop generating

    return EventSourceResponse(events(), ping=15)


@router.post("/search", response_model=SearchResponse, responses={404: {"description": "the scope holds no notes"}})
def search(body: SearchRequest, answerer: AnswererDep, settings: SettingsDep) -> SearchResponse:
    """Ranked passages with cosine scores; no generation."""
    check_limits(body, settings)
    hits = answerer.search(body.question, body.top_k, body.scope_filter())
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
