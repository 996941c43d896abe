"""notes-qa as an OpenAI-compatible model: ``GET /v1/models`` and ``POST /v1/chat/completions`` (streaming or not).

The last user message is the question; earlier user/assistant messages are the conversation (follow-ups are made
self-contained as in ``/ask``); system messages are ignored (the grounding prompt is ours). The reply's text cites
passages as [n]; the passages themselves are in the extra top-level field ``citations`` (the ``/ask`` citation
objects), and ``notes_qa`` holds ``abstained``, ``abstain_reason``, ``query`` and ``related``. Errors use OpenAI's
shape: ``{"error": {"message", "type", "param", "code"}}``.

Streaming sends the generator's draft as it is written. The checks that follow can change it: when the final answer
differs from the draft (an unsupported draft becomes a quote of the best evidence, an unanswerable question "no
answer found", or a citation moves to another unit), the last chunk appends a short correction, and its
``citations``/``evidence``/``notes_qa`` fields are the checked result.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from service.api.admission import AnswerJob
from service.api.deps import AdmissionDep, AnswererDep, MetricsDep, SettingsDep
from service.api.errors import SERVED, OpenAIError, problem_of
from service.api.schemas import AskResponse, ScopeIn
from service.backends.settings import Settings
from service.pipeline.answering import Answer, AnswerCancelled, Token
from service.pipeline.conversation import Turn
from service.pipeline.deadline import Deadline
from service.pipeline.prompting import NO_ANSWER

router = APIRouter(prefix="/v1", tags=["openai"])
CREATED = int(time.time())


class TextPart(BaseModel):
    type: str
    text: str | None = None


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[TextPart] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):
            return "\n".join(part.text or "" for part in self.content if part.type == "text")
        return self.content or ""


class ChatCompletionRequest(BaseModel):
    """The fields notes-qa uses; the others OpenAI defines (temperature, max_tokens, ...) are accepted and ignored."""

    model_config = ConfigDict(extra="allow")
    model: str
    messages: list[ChatMessage] = Field(..., min_length=1)
    stream: bool = False
    scope: ScopeIn | None = Field(None, description="notes-qa extra: answer only from these notes")


@router.get("/models")
def list_models(settings: SettingsDep) -> dict[str, Any]:
    """The one model notes-qa serves."""
    return {"object": "list", "data": [_model_card(settings.served_model_name)]}


@router.get("/models/{model_id}")
def get_model(model_id: str, settings: SettingsDep) -> dict[str, Any]:
    if model_id != settings.served_model_name:
        raise OpenAIError(404, f"The model '{model_id}' does not exist", "invalid_request_error", "model_not_found")
    return _model_card(model_id)


@router.post("/chat/completions", response_model=None)
async def chat_completions(body: ChatCompletionRequest, request: Request, answerer: AnswererDep,
                           admission: AdmissionDep, settings: SettingsDep, metrics: MetricsDep) -> Any:  # fmt: skip
    """Answer the last user message from the notes. Extra fields: `citations` and `notes_qa`."""
    if body.model != settings.served_model_name:
        raise OpenAIError(
            404,
            f"The model '{body.model}' does not exist; this server serves '{settings.served_model_name}'",
            "invalid_request_error",
            "model_not_found",
        )
    question, history = _conversation(body.messages, settings)
    completion_id = f"chatcmpl-{uuid.uuid4().hex}"
    scope = body.scope.to_scope() if body.scope else None
    job = AnswerJob.start(
        answerer, admission, Deadline(settings.answer_timeout_s), question, None, history, scope=scope
    )  # fmt: skip  (failures: service/api/errors.py, in OpenAI's shape under /v1)
    if not body.stream:
        answer = await job.result(request.is_disconnected)
        metrics.observe_answer(answer)
        return {
            "id": completion_id,
            "object": "chat.completion",
            "created": int(time.time()),
            "model": settings.served_model_name,
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": answer.text}, "finish_reason": "stop"}
            ],
            "usage": None,
            **_extras(answer),
        }

    async def chunks() -> AsyncIterator[str]:
        head = {"id": completion_id, "object": "chat.completion.chunk", "created": int(time.time())}
        head["model"] = settings.served_model_name

        def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
            choice = {"index": 0, "delta": delta, "finish_reason": finish}
            return f"data: {json.dumps({**head, 'choices': [choice], **extra}, ensure_ascii=False)}\n\n"

        yield chunk({"role": "assistant", "content": ""})
        draft: list[str] = []
        try:
            async for event in job.events():
                if isinstance(event, Token):
                    draft.append(event.text)
                    yield chunk({"content": event.text})
                elif isinstance(event, Answer):
                    metrics.observe_answer(event)
                    yield chunk({"content": _correction("".join(draft), event)}, "stop", **_extras(event))
        except AnswerCancelled:
            return
        except SERVED as exc:  # the stream has started: the problem is its last chunk
            error = problem_of(exc, metrics).openai()
            yield f"data: {json.dumps(error.body(), ensure_ascii=False)}\n\n"
        finally:
            job.cancel()  # the client went away (the response is cancelled) or we are done: stop generating
        yield "data: [DONE]\n\n"

    return StreamingResponse(chunks(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})


def _conversation(messages: list[ChatMessage], settings: Settings) -> tuple[str, list[Turn]]:
    if len(messages) > settings.max_messages:
        raise OpenAIError(
            400, f"{len(messages)} messages; the limit is {settings.max_messages}", "invalid_request_error",
            "too_many_messages",
        )  # fmt: skip
    for i, message in enumerate(messages):
        if len(message.text()) > settings.max_message_chars:
            raise OpenAIError(
                400, f"messages[{i}] is {len(message.text())} characters; the limit is {settings.max_message_chars}",
                "invalid_request_error", "message_too_long",
            )  # fmt: skip
    max_chars = settings.max_question_chars
    last = messages[-1]
    if last.role != "user" or not last.text().strip():
        raise OpenAIError(
            400, "the last message must be a non-empty user message (the question)", "invalid_request_error"
        )
    question = last.text().strip()
    if len(question) > max_chars:
        raise OpenAIError(
            400, f"the question is {len(question)} characters; the limit is {max_chars}", "invalid_request_error"
        )
    history = [Turn(m.role, m.text()) for m in messages[:-1] if m.role in ("user", "assistant") and m.text().strip()]
    return question, history


def _extras(answer: Answer) -> dict[str, Any]:
    ask = AskResponse.of(answer)
    return {
        "citations": [c.model_dump() for c in ask.citations],
        "evidence": [e.model_dump() for e in ask.evidence],
        "notes_qa": {
            "abstained": ask.abstained,
            "abstain_reason": ask.abstain_reason,
            "kind": ask.kind,
            "p_answerable": ask.p_answerable,
            "query": ask.query,
            "related": [r.model_dump() for r in ask.related],
            "timings_ms": ask.timings_ms,
        },
    }


def _correction(draft: str, answer: Answer) -> str:
    """What the last chunk appends when the checked answer differs from the streamed draft."""
    if draft.strip() == answer.text.strip():
        return ""
    if answer.abstained:
        return f"\n\n(notes-qa: this draft is not supported by your notes: {NO_ANSWER})"
    if answer.kind == "quote":
        return f"\n\n(notes-qa: this draft is not supported by your notes; they say: {answer.text})"
    sources = ", ".join(f"[{c.n}]" for c in answer.citations)
    return f"\n\n(notes-qa: checked sources: {sources})"


def _model_card(model_id: str) -> dict[str, Any]:
    return {"id": model_id, "object": "model", "created": CREATED, "owned_by": "notes-qa"}
