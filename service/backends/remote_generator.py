"""Generator backend that calls an OpenAI-compatible ``/v1/chat/completions`` server (vLLM, Ollama, llama.cpp
server, TGI) through the official ``openai`` client. Any failure to get a reply becomes ``GeneratorUnavailable``
with a reason a person can act on; a timeout bounds every connect and every wait between streamed tokens."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from service.pipeline.generation import GeneratorUnavailable, Prompt


class OpenAIChatGenerator:
    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str,
        timeout_s: float,
        max_new_tokens: int = 160,
        stream: bool = True,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.name = model
        self.api_key = api_key
        self.timeout_s = timeout_s
        self.max_new_tokens = max_new_tokens
        self.stream = stream
        self._client: Any = None

    def warm_up(self) -> None:
        """Create the client (no request: the server may start after us; a failed call is reported per request)."""
        if self._client is None:
            from openai import OpenAI

            self._client = OpenAI(base_url=self.base_url, api_key=self.api_key, timeout=self.timeout_s, max_retries=0)

    def generate(self, prompt: Prompt) -> Iterator[str]:
        self.warm_up()
        import httpx
        import openai

        request: dict[str, Any] = {
            "model": self.name,
            "messages": [{"role": "system", "content": prompt.system}, {"role": "user", "content": prompt.user}],
            "max_tokens": self.max_new_tokens,
            "temperature": 0,
        }
        received = False
        try:
            if not self.stream:
                completion = self._client.chat.completions.create(**request)
                yield (completion.choices[0].message.content or "") if completion.choices else ""
                return
            with self._client.chat.completions.create(**request, stream=True) as chunks:
                for chunk in chunks:
                    if chunk.choices and chunk.choices[0].delta.content:
                        received = True
                        yield chunk.choices[0].delta.content
        except (openai.APITimeoutError, httpx.TimeoutException) as exc:
            public = f"the inference server did not answer within {self.timeout_s:g} s"
            raise GeneratorUnavailable(
                f"the inference server at {self.base_url} did not answer within {self.timeout_s:g} s", public
            ) from exc
        except (openai.APIConnectionError, httpx.HTTPError) as exc:
            if not received:
                raise GeneratorUnavailable(
                    f"cannot reach the inference server at {self.base_url}: {exc}", "cannot reach the inference server"
                ) from exc
            raise GeneratorUnavailable(  # the connection dropped part-way through a streamed reply
                f"the inference server at {self.base_url} broke off its reply: {exc}",
                "the inference server broke off its reply",
            ) from exc
        except openai.APIStatusError as exc:
            raise GeneratorUnavailable(
                f"the inference server at {self.base_url} answered HTTP {exc.status_code}: {_message(exc)}",
                f"the inference server answered HTTP {exc.status_code}",
            ) from exc


def _message(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
    return str(getattr(exc, "message", exc))
