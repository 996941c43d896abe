"""A small OpenAI-compatible inference server for tests: `/v1/chat/completions` (streaming or not) with a scripted
reply, `/v1/embeddings` from a given function, an optional delay before answering (to trigger timeouts), an optional error status, and an optional crash
part-way through a streamed reply."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse


@dataclass
class Script:
    reply: str = "Recall is TP/(TP+FN) [2]."
    delay_s: float = 0.0  # before the first byte
    status: int = 200
    break_after: int | None = None  # stream this many words, then drop the connection (a crashed server)
    requests: list[dict[str, Any]] = field(default_factory=list)
    embed: Callable[[list[str]], Any] | None = None  # texts -> vectors, for /v1/embeddings


def fake_openai_app(script: Script) -> FastAPI:
    app = FastAPI()

    @app.get("/v1/models")
    def models() -> dict[str, Any]:
        return {"object": "list", "data": [{"id": "fake-llm", "object": "model", "created": 0, "owned_by": "test"}]}

    @app.post("/v1/embeddings", response_model=None)
    async def embeddings(request: Request) -> Any:
        body = await request.json()
        script.requests.append(body)
        if script.status != 200 or script.embed is None:
            error = {"error": {"message": "no embedding model", "type": "server_error", "param": None, "code": None}}
            return JSONResponse(error, status_code=script.status if script.status != 200 else 500)
        vectors = [[float(x) for x in v] for v in script.embed(list(body["input"]))]
        data = [{"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(vectors)]
        usage = {"prompt_tokens": 0, "total_tokens": 0}
        return {"object": "list", "data": data[::-1], "model": body["model"], "usage": usage}  # any order: index says

    @app.post("/v1/chat/completions", response_model=None)
    async def completions(request: Request) -> Any:
        body = await request.json()
        script.requests.append(body)
        await asyncio.sleep(script.delay_s)
        if script.status != 200:
            error = {"error": {"message": "model overloaded", "type": "server_error", "param": None, "code": None}}
            return JSONResponse(error, status_code=script.status)
        base = {"id": "chatcmpl-fake", "created": int(time.time()), "model": body["model"]}
        if not body.get("stream"):
            message = {"role": "assistant", "content": script.reply}
            choice = {"index": 0, "message": message, "finish_reason": "stop"}
            return {**base, "object": "chat.completion", "choices": [choice]}

        async def chunks() -> AsyncIterator[str]:
            for i, word in enumerate(script.reply.split(" ")):
                if script.break_after is not None and i >= script.break_after:
                    raise ConnectionAbortedError("inference server killed mid-stream")
                delta = {"index": 0, "delta": {"content": word + " "}, "finish_reason": None}
                yield f"data: {json.dumps({**base, 'object': 'chat.completion.chunk', 'choices': [delta]})}\n\n"
            end = {"index": 0, "delta": {}, "finish_reason": "stop"}
            yield f"data: {json.dumps({**base, 'object': 'chat.completion.chunk', 'choices': [end]})}\n\n"
            yield "data: [DONE]\n\n"

        return StreamingResponse(chunks(), media_type="text/event-stream")

    return app
