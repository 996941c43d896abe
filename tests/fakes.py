"""Deterministic stand-ins for plumbing tests (the real models are exercised by the tests marked slow)."""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Iterator

import numpy as np

from service.pipeline.answerability import FEATURES, AnswerabilityModel
from service.pipeline.generation import Prompt


class HashEmbedder:
    """Bag-of-words hashed into a unit vector: texts sharing words are close. Counts its calls."""

    name = "hash-embedder"
    backend = "fake"
    dim = 64

    def __init__(self) -> None:
        self.embedded: list[str] = []

    def warm_up(self) -> None:
        pass

    def embed(self, texts: list[str], progress: bool = False) -> np.ndarray:
        self.embedded.extend(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"[a-z0-9]+", text.lower()):
                out[row, int(hashlib.md5(word.encode()).hexdigest(), 16) % self.dim] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms == 0, 1, norms)


class ScriptedGenerator:
    """Replies with a fixed text, in pieces (``delay`` seconds apart); records the prompts it was given."""

    name = "scripted"

    def __init__(self, reply: str, delay: float = 0.0) -> None:
        self.reply = reply
        self.delay = delay
        self.prompts: list[Prompt] = []
        self.pieces_sent = 0

    def warm_up(self) -> None:
        pass

    def generate(self, prompt: Prompt) -> Iterator[str]:
        self.prompts.append(prompt)
        for word in self.reply.split(" "):
            if self.delay:
                time.sleep(self.delay)
            self.pieces_sent += 1
            yield word + " "


def fixed_answerability(answers: bool) -> AnswerabilityModel:
    """An answerability model that ignores its inputs: always answer, or never (for plumbing tests)."""
    n = len(FEATURES)
    return AnswerabilityModel(FEATURES, (0.0,) * n, (1.0,) * n, (0.0,) * n, 20.0 if answers else -20.0, "fixed", 0)


ALWAYS_ANSWER = fixed_answerability(True)
NEVER_ANSWER = fixed_answerability(False)
