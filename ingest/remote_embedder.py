"""Embeddings from an OpenAI-compatible ``/v1/embeddings`` server (text-embeddings-inference, vLLM, Ollama,
llama.cpp server): big ingests on a machine with more cores or a GPU. Vectors are L2-normalised here, whatever
the server does; the model name and dimension go into the manifest, so an index is only searched with its model."""

from __future__ import annotations

from typing import Any

import numpy as np

from ingest.types import ModelUnavailable


class OpenAIEmbedder:
    """Same interface as the local embedders. No I/O until ``warm_up`` (which asks the server for one vector)."""

    backend = "openai"

    def __init__(self, base_url: str, model: str, api_key: str, timeout_s: float, batch_size: int = 64) -> None:
        self.base_url = base_url
        self.name = model
        self.api_key = api_key
        self.timeout_s = timeout_s
        self.batch_size = batch_size
        self.dim = 0
        self._client: Any = None

    def warm_up(self) -> None:
        if self._client is not None:
            return
        from openai import OpenAI

        client = OpenAI(base_url=self.base_url, api_key=self.api_key, timeout=self.timeout_s, max_retries=2)
        self.dim = int(self._request(client, ["dimension probe"]).shape[1])
        self._client = client

    def embed(self, texts: list[str], progress: bool = False) -> np.ndarray:
        self.warm_up()
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        parts = [
            self._request(self._client, texts[i : i + self.batch_size]) for i in range(0, len(texts), self.batch_size)
        ]
        vectors = np.vstack(parts)
        if vectors.shape[1] != self.dim:
            raise ModelUnavailable(f"the embeddings server changed dimension ({self.dim} → {vectors.shape[1]})")
        return vectors

    def _request(self, client: Any, texts: list[str]) -> np.ndarray:
        import openai

        try:
            reply = client.embeddings.create(model=self.name, input=texts, encoding_format="float")
        except openai.APIError as exc:
            raise ModelUnavailable(f"the embeddings server at {self.base_url} failed: {exc}") from exc
        rows = sorted(reply.data, key=lambda d: d.index)
        if len(rows) != len(texts):
            raise ModelUnavailable(f"the embeddings server returned {len(rows)} vectors for {len(texts)} texts")
        vectors = np.asarray([r.embedding for r in rows], dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        if vectors.ndim != 2 or not np.all(norms > 0):
            raise ModelUnavailable("the embeddings server returned an empty or zero vector")
        return np.ascontiguousarray(vectors / norms, dtype=np.float32)
