"""The answering pipeline shared by the HTTP API, the CLI and the eval harness.

question -> retrieve top-k -> (top-1 score below threshold: "no answer found", no generation)
         -> grounded prompt -> generator (streamed) -> citations parsed -> refusal becomes an abstention.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from functools import cache
from typing import Literal

from index import bm25
from index.search import Hit
from service.conversation import Turn, contextualize
from service.generator import Generator, GeneratorUnavailable
from service.grounding import is_invented, reattribute
from service.prompting import NO_ANSWER, build_prompt, cited_numbers, has_content, is_refusal, word_support
from service.retriever import Retriever

# Words that point at the notes themselves ("per my flashcards"), not at the topic asked about.
META_TERMS = frozenset(
    "my note notes card cards flashcard flashcards deck blog post article page per according".split()
)
# A best passage this similar to the question means its topic is covered, even when a word of the question
# is missing from the notes (a paraphrase); below it, a missing word the answer repeats marks a made-up answer.
COVERED_TOPIC_COSINE = 0.65
# An answer without [n] markers is attributed to the passage closest to it, if close enough: by meaning
# (cosine) or by wording (share of the answer's content words found in the passage).
ATTRIBUTION_COSINE = 0.5
ATTRIBUTION_WORDS = 0.6

AbstainReason = Literal["below_threshold", "generator_refused", "no_passages", "ungrounded"]


@dataclass(frozen=True)
class Citation:
    n: int  # the [n] used in the answer text
    hit: Hit


@dataclass(frozen=True)
class Answer:
    question: str
    text: str
    abstained: bool
    citations: tuple[Citation, ...]
    hits: tuple[Hit, ...]  # every passage handed to the generator (or considered, when abstaining early)
    timings_ms: dict[str, float] = field(default_factory=dict)
    reason: AbstainReason | None = None
    query: str = ""  # what was searched and asked: the question, made self-contained when it was a follow-up


class AnswerUnavailable(RuntimeError):
    """Retrieval worked but the generator failed: the reason, and the passages found (worth showing)."""

    def __init__(self, reason: str, hits: tuple[Hit, ...]) -> None:
        super().__init__(reason)
        self.reason = reason
        self.hits = hits


@dataclass(frozen=True)
class Token:
    text: str


class Answerer:
    def __init__(
        self,
        retriever: Retriever,
        generator: Generator,
        top_k: int,
        threshold: float | None,
        default_threshold: float,
    ) -> None:
        self.retriever = retriever
        self.generator = generator
        self.top_k = top_k
        self._threshold = threshold
        self._default_threshold = default_threshold

    def warm_up(self) -> None:
        self.retriever.warm_up()
        self.generator.warm_up()

    @property
    def threshold(self) -> float:
        """Explicit setting, else the value calibrated and stored with the index, else the default."""
        if self._threshold is not None:
            return self._threshold
        calibrated = self.retriever.manifest.threshold
        return calibrated if calibrated is not None else self._default_threshold

    def search(self, question: str, k: int | None = None) -> list[Hit]:
        return self.retriever.retrieve(question, k or self.top_k)

    def answer(self, question: str, top_k: int | None = None, history: Sequence[Turn] = ()) -> Answer:
        for event in self.stream(question, top_k, history):
            if isinstance(event, Answer):
                return event
        raise AssertionError("stream ended without an answer")

    def stream(self, question: str, top_k: int | None = None, history: Sequence[Turn] = ()) -> Iterator[Token | Answer]:
        """Tokens as the generator produces them, then the checked `Answer`. With `history`, a follow-up is
        first made self-contained (`conversation.contextualize`) and that form is searched and asked."""
        started = time.perf_counter()
        asked = question
        question = contextualize(question, history)
        hits = self.retriever.retrieve(question, top_k or self.top_k)
        retrieved = time.perf_counter()
        timings = {"retrieve": _ms(started, retrieved)}
        if not hits or max(h.score for h in hits) < self.threshold:
            reason: AbstainReason = "no_passages" if not hits else "below_threshold"
            timings["generate"] = 0.0
            timings["total"] = _ms(started, time.perf_counter())
            yield Token(NO_ANSWER)
            yield Answer(asked, NO_ANSWER, True, (), tuple(hits), timings, reason, question)
            return
        prompt = build_prompt(question, hits)
        pieces: list[str] = []
        try:
            for piece in self.generator.generate(prompt):
                if piece:
                    pieces.append(piece)
                    yield Token(piece)
        except GeneratorUnavailable as exc:
            raise AnswerUnavailable(str(exc), tuple(hits)) from exc
        done = time.perf_counter()
        timings["generate"] = _ms(retrieved, done)
        timings["total"] = _ms(started, done)
        yield replace(self._finish(question, "".join(pieces).strip(), hits, timings), question=asked, query=question)

    def _finish(self, question: str, text: str, hits: list[Hit], timings: dict[str, float]) -> Answer:
        cited = cited_numbers(text, len(hits))
        if is_refusal(text, cited):
            return Answer(question, NO_ANSWER, True, (), tuple(hits), timings, "generator_refused")
        if not cited and (best := self._most_similar_passage(text, hits)) is not None:
            text = f"{text} [{best}]"
            cited = [best]
        if (
            not cited
            or not has_content(text)
            or self._asserts_unknown_topic(question, text, hits)
            or is_invented(question, text, hits)
        ):
            return Answer(question, NO_ANSWER, True, (), tuple(hits), timings, "ungrounded")
        text, cited = reattribute(text, hits)
        citations = tuple(Citation(n, hits[n - 1]) for n in cited)
        return Answer(question, text, False, citations, tuple(hits), timings)

    def _most_similar_passage(self, text: str, hits: list[Hit]) -> int | None:
        """1-based number of the passage the answer is closest to, if close enough."""
        if not has_content(text):
            return None
        vectors = self.retriever.embedder.embed([text, *(h.chunk.passage() for h in hits)])
        scores = [
            max(float(cos) / ATTRIBUTION_COSINE, word_support(text, h.chunk.passage()) / ATTRIBUTION_WORDS)
            for cos, h in zip(vectors[1:] @ vectors[0], hits, strict=True)
        ]
        best = max(range(len(hits)), key=scores.__getitem__)
        return best + 1 if scores[best] >= 1.0 else None

    def _asserts_unknown_topic(self, question: str, text: str, hits: list[Hit]) -> bool:
        """The answer talks about a term from the question that the notes never mention: it was made up.

        (A small model asked about "beam search" with passages about greedy decoding will happily describe
        beam search; no passage can ground that, whatever it cites.)
        """
        if max(h.score for h in hits) >= COVERED_TOPIC_COSINE:
            return False
        echoed = (bm25.terms(question) & bm25.terms(text)) - _meta_stems()
        return bool(self.retriever.snapshot().bm25.unknown(echoed))


@cache
def _meta_stems() -> frozenset[str]:
    return frozenset(bm25.terms(" ".join(META_TERMS)))


def _ms(start: float, end: float) -> float:
    return round((end - start) * 1000, 1)
