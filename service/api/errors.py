"""Errors mapped once: each failure the pipeline or the answer queue raises becomes one HTTP status and body here,
in FastAPI exception handlers (routes do not catch them). Under ``/v1`` the body is OpenAI's error shape, elsewhere
``{"detail": ...}``. A stream that has started cannot change its status: it sends the same problem as its last
event (``problem_of``)."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from index.scope import NothingInScope
from service.api.admission import Busy
from service.api.observability import Metrics
from service.api.readiness import UNAVAILABLE, public_reason
from service.api.schemas import SearchHit, validation_problems
from service.pipeline.answering import AnswerCancelled, AnswerTimeout, AnswerUnavailable

log = logging.getLogger("notes_qa")
CLIENT_CLOSED = 499  # nginx's "client closed request": logged, never read by anyone
SERVED = (NothingInScope, Busy, *UNAVAILABLE)  # failures that are an answer to the client, not a bug


class OpenAIError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        type_: str,
        code: str | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.type, self.code, self.extra = status, message, type_, code, extra
        self.headers = headers

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.type, "param": None, "code": self.code, **self.extra}}


@dataclass(frozen=True)
class Problem:
    status: int
    reason: str
    code: str  # OpenAI's error code
    sources: list[dict[str, Any]] = field(default_factory=list)  # the passages found, when retrieval worked
    headers: dict[str, str] = field(default_factory=dict)

    def detail(self) -> str | dict[str, Any]:
        return self.reason if self.status == 404 else {"reason": self.reason, "sources": self.sources}

    def openai(self) -> OpenAIError:
        type_ = "invalid_request_error" if self.status < 500 else "server_error"
        extra = {"sources": self.sources} if self.status >= 500 and self.code != "busy" else {}
        return OpenAIError(self.status, self.reason, type_, self.code, self.headers or None, **extra)


def problem_of(exc: Exception, metrics: Metrics | None = None) -> Problem:
    """The status, reason (no server internals) and passages of a served failure."""
    if isinstance(exc, NothingInScope):  # said as such, not as "no answer found"
        return Problem(404, str(exc), "nothing_in_scope")
    if isinstance(exc, Busy):
        return Problem(503, str(exc), "busy", headers={"Retry-After": str(exc.retry_after)})
    log.warning("answer unavailable: %s", exc)
    sources = [SearchHit.of(h).model_dump() for h in exc.hits] if isinstance(exc, AnswerUnavailable) else []
    if isinstance(exc, AnswerTimeout):
        return Problem(504, public_reason(exc), "timeout", sources)
    if isinstance(exc, AnswerUnavailable) and metrics is not None:
        metrics.generator_failures.inc()
    return Problem(503, public_reason(exc), "unavailable", sources)


def install_error_handlers(app: FastAPI, metrics: Metrics) -> None:
    async def served(request: Request, exc: Exception) -> Response:
        problem = problem_of(exc, metrics)
        if request.url.path.startswith("/v1/"):
            error = problem.openai()
            return JSONResponse(error.body(), status_code=error.status, headers=error.headers)
        return JSONResponse({"detail": problem.detail()}, status_code=problem.status, headers=problem.headers or None)

    async def cancelled(request: Request, exc: Exception) -> Response:
        return Response(status_code=CLIENT_CLOSED)

    async def openai_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, OpenAIError)
        return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)

    async def validation_error(request: Request, exc: Exception) -> Response:
        """What was wrong, never the input itself: a huge or non-finite value (1e309) is not echoed back."""
        assert isinstance(exc, RequestValidationError)
        problems = validation_problems(exc.errors())
        if not request.url.path.startswith("/v1/"):
            return JSONResponse({"detail": problems}, status_code=422)
        text = "; ".join(f"{'.'.join(map(str, p['loc'][1:])) or 'body'}: {p['msg']}" for p in problems)
        return JSONResponse(OpenAIError(400, text, "invalid_request_error").body(), status_code=400)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if not request.url.path.startswith("/v1/"):
            return await http_exception_handler(request, exc)
        type_ = "server_error" if exc.status_code >= 500 else "invalid_request_error"
        message = exc.detail if isinstance(exc.detail, str) else json.dumps(exc.detail)
        return JSONResponse(OpenAIError(exc.status_code, message, type_).body(), status_code=exc.status_code)

    for kind in SERVED:
        app.add_exception_handler(kind, served)
    app.add_exception_handler(AnswerCancelled, cancelled)
    app.add_exception_handler(OpenAIError, openai_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
