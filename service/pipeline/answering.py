"""The answering pipeline shared by the HTTP API, the CLI and the eval harness.

question -> retrieve top-k passages -> evidence units (exact file lines), the best few numbered -> (evidence event)
         -> answerability model (P(answerable) from retrieval and evidence signals): below 1/2 "no answer found"
         -> prompt of those units -> generator (streamed)
         -> draft checked against the evidence it cites; unsupported: the best unit is quoted instead
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from index.manifest import Manifest
from index.scope import Scope
from index.search import Hit
from index.store import Snapshot
from service.pipeline import gathering
from service.pipeline.answerability import AnswerabilityModel, default_model
from service.pipeline.conversation import Turn, contextualize
from service.pipeline.deadline import Deadline
from service.pipeline.evidence import Evidence
from service.pipeline.gathering import Gathered
from service.pipeline.generation import Generator, GeneratorUnavailable
from service.pipeline.grounding import check_draft, quote_answer
from service.pipeline.links import NoteLinks
from service.pipeline.policy import GroundingPolicy
from service.pipeline.prompting import NO_ANSWER, build_prompt
from service.pipeline.reader import ReaderModel, default_reader
from service.pipeline.retriever import Retriever

AbstainReason = Literal["no_passages", "not_answerable"]
AnswerKind = Literal["generated", "quote", "none"]


@dataclass(frozen=True)
class Citation:
    n: int  # the [n] used in the answer text: evidence number n
    evidence: Evidence
    uri: str | None = None  # file:// URI of the quoted lines (None for an index built before links)
    obsidian_uri: str | None = None  # obsidian://open link when the notes folder is an Obsidian vault

    @property
    def hit(self) -> Hit:
        return self.evidence.unit.hit


@dataclass(frozen=True)
class Answer:
    question: str
    text: str
    abstained: bool
    citations: tuple[Citation, ...]
    hits: tuple[Hit, ...]  # every passage retrieved
    timings_ms: dict[str, float] = field(default_factory=dict)
    reason: AbstainReason | None = None
    query: str = ""  # what was searched and asked: the question, made self-contained when it was a follow-up
    evidence: tuple[Evidence, ...] = ()  # the units the generator saw, numbered as cited
    kind: AnswerKind = "none"  # generated: the checked draft; quote: the best evidence, quoted
    draft: str = ""  # the generator's raw reply
    p_answerable: float | None = None
    signals: dict[str, float] = field(default_factory=dict)  # the answerability model's inputs
    draft_problem: str | None = None  # why the draft was replaced by a quote
    index_version: str = ""  # the one index version every part of this answer was read from


class AnswerUnavailable(RuntimeError):
    """Retrieval worked but the generator failed: the reason, and the passages found (worth showing)."""

    def __init__(self, reason: str, hits: tuple[Hit, ...], public: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.public = public or reason  # what an API client is told (no internal addresses or paths)
        self.hits = hits


class AnswerTimeout(AnswerUnavailable):
    """The answer's deadline passed (queueing, retrieval or generation too slow); the passages found so far."""


class AnswerCancelled(Exception):
    """The caller called the answer off (its client disconnected): generation stopped."""


@dataclass(frozen=True)
class Token:
    text: str


@dataclass(frozen=True)
class EvidenceFound:
    """Sent before the first token: what the answer will rest on."""

    evidence: tuple[Evidence, ...]


class Answerer:
    def __init__(
        self,
        retriever: Retriever,
        generator: Generator,
        top_k: int,
        answerability: AnswerabilityModel | None = None,
        reader: ReaderModel | None = None,
        policy: GroundingPolicy | None = None,
    ) -> None:
        self.retriever = retriever
        self.generator = generator
        self.top_k = top_k
        self._answerability = answerability
        self._reader = reader
        self.policy = policy or GroundingPolicy()

    def warm_up(self) -> None:
        """Load the generator and, meanwhile, the embedder and the index (a cold start takes the longer of the two,
        not their sum). A retriever failure is raised before a generator one."""
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="warm-up") as pool:
            generator = pool.submit(self.generator.warm_up)
            try:
                self.retriever.warm_up()
            finally:
                wait([generator])
            generator.result()

    @property
    def answerability(self) -> AnswerabilityModel:
        """Explicitly given, else the model calibrated and stored with the index, else the shipped default."""
        return self._answerability_for(self.retriever.manifest)

    @property
    def reader(self) -> ReaderModel:
        """Explicitly given, else the reader trained by `calibrate` and stored with the index, else the shipped one."""
        return self._reader_for(self.retriever.manifest)

    def _answerability_for(self, manifest: Manifest) -> AnswerabilityModel:
        if self._answerability is not None:
            return self._answerability
        return AnswerabilityModel.from_dict(manifest.answerability) if manifest.answerability else default_model()

    def _reader_for(self, manifest: Manifest) -> ReaderModel:
        if self._reader is not None:
            return self._reader
        return ReaderModel.from_dict(manifest.reader) if manifest.reader else default_reader()

    @property
    def answerability_source(self) -> str:
        """Where the answerability model in use came from, for /ready and eval reports."""
        model = self.answerability
        origin = (
            "configured"
            if self._answerability is not None
            else ("index" if self.retriever.manifest.answerability else "shipped default")
        )
        return f"{origin} (trained on {model.trained_on or '?'}, {model.n_questions} questions)"

    def check_scope(self, scope: Scope | None) -> None:
        """``NothingInScope`` when no served passage is in ``scope``."""
        if scope is not None and not scope.is_everything:
            self.retriever.snapshot().rows_in(scope)

    def search(self, question: str, k: int | None = None, scope: Scope | None = None) -> list[Hit]:
        return self.retriever.retrieve(question, k or self.top_k, scope)

    def answer(
        self, question: str, top_k: int | None = None, history: Sequence[Turn] = (), scope: Scope | None = None
    ) -> Answer:
        for event in self.stream(question, top_k, history, scope=scope):
            if isinstance(event, Answer):
                return event
        raise AssertionError("stream ended without an answer")

    def stream(
        self,
        question: str,
        top_k: int | None = None,
        history: Sequence[Turn] = (),
        deadline: Deadline | None = None,
        scope: Scope | None = None,
    ) -> Iterator[EvidenceFound | Token | Answer]:
        """The evidence, then tokens as the generator produces them, then the checked `Answer`. With `history`,
        a follow-up is first made self-contained (`conversation.contextualize`) and that form is searched.
        With a `deadline`, it is checked before generating and between tokens: `AnswerTimeout` when it passed,
        `AnswerCancelled` when it was cancelled (the generator is closed either way, freeing it). With a `scope`,
        only passages in it are used (`NothingInScope`, before any event, when it holds none)."""
        started = time.perf_counter()
        asked = question
        question = contextualize(question, history)
        snapshot = self.retriever.snapshot()  # one index version for the whole answer, whatever ingest swaps in
        query_vector = self.retriever.embed_query(question, snapshot)
        k = top_k or self.top_k
        gathered = self._gather(snapshot, question, query_vector, k, scope)
        hits, evidence = gathered.hits, gathered.evidence
        retrieved = time.perf_counter()
        timings = {"retrieve": _ms(started, retrieved)}
        version = snapshot.manifest.version
        yield EvidenceFound(evidence)
        if not evidence:
            timings.update(generate=0.0, total=_ms(started, time.perf_counter()))
            yield Token(NO_ANSWER)
            yield Answer(asked, NO_ANSWER, True, (), tuple(hits), timings, "no_passages", question,
                         index_version=version)  # fmt: skip
            return
        model = self._answerability_for(snapshot.manifest)
        # The model decides on inputs measured at the top-k it was trained at, whatever the client asked for.
        basis = (
            gathered if model.top_k in (0, k) else self._gather(snapshot, question, query_vector, model.top_k, scope)
        )
        signals = gathering.signals(question, basis)
        p = round(model.probability(signals), 4)
        if p < self.policy.decision_probability:  # the notes do not answer it: no generation at all
            timings.update(generate=0.0, total=_ms(started, time.perf_counter()))
            yield Token(NO_ANSWER)
            yield Answer(asked, NO_ANSWER, True, (), tuple(hits), timings, "not_answerable", question, evidence,
                         p_answerable=p, signals=signals, index_version=version)  # fmt: skip
            return
        pieces: list[str] = []
        _check(deadline, hits)
        replies = self.generator.generate(build_prompt(question, evidence))
        try:
            for piece in replies:
                _check(deadline, hits)
                if piece:
                    pieces.append(piece)
                    yield Token(piece)
                    if _paragraph_done("".join(pieces)):
                        break  # an answer is one short paragraph: stop decoding (prefill is paid, tokens are not)
        except GeneratorUnavailable as exc:
            raise AnswerUnavailable(str(exc), tuple(hits), exc.public) from exc
        finally:
            _close(replies)  # stopped early, timed out, cancelled or the consumer left: the generator stops now
        done = time.perf_counter()
        timings.update(generate=_ms(retrieved, done), total=_ms(started, done))
        reply = "".join(pieces)
        draft = check_draft(question, reply, evidence, self.policy)
        kind: AnswerKind = "generated"
        text, cited = draft.text, draft.cited
        if not draft.kept:  # the model failed, not the notes: quote the evidence instead of abstaining
            kind = "quote"
            text, cited = quote_answer(evidence, draft.quote, self.policy.max_answer_words)
        links = NoteLinks.of(snapshot.manifest)
        citations = tuple(
            Citation(
                n, e, links.file_uri(e.unit.file, e.unit.start_line, e.unit.heading), links.obsidian_uri(e.unit.file)
            )
            for n, e in ((n, evidence[n - 1]) for n in cited)
        )
        yield Answer(asked, text, False, citations, tuple(hits), timings, None, question, evidence, kind, reply,
                     p, signals, draft.problem, version)  # fmt: skip

    def gather(self, question: str, top_k: int | None = None, scope: Scope | None = None) -> Gathered:
        """The passages and evidence units for ``question`` from the served version (what an answer rests on)."""
        snapshot = self.retriever.snapshot()
        query_vector = self.retriever.embed_query(question, snapshot)
        return self._gather(snapshot, question, query_vector, top_k or self.top_k, scope)

    def signals(self, question: str, gathered: Gathered) -> dict[str, float]:
        """The answerability model's inputs for ``gathered``."""
        return gathering.signals(question, gathered)

    def _gather(
        self, snapshot: Snapshot, question: str, query_vector: np.ndarray, k: int, scope: Scope | None
    ) -> Gathered:
        reader = self._reader_for(snapshot.manifest)
        return gathering.gather(self.retriever, snapshot, question, query_vector, k, scope, reader, self.policy)


def _close(replies: Iterator[str]) -> None:
    close = getattr(replies, "close", None)
    if close is not None:
        close()


def _check(deadline: Deadline | None, hits: Sequence[Hit]) -> None:
    if deadline is None:
        return
    if deadline.cancelled:
        raise AnswerCancelled("the answer was called off")
    if deadline.expired:
        raise AnswerTimeout(f"no answer within the {deadline.seconds:g} s deadline", tuple(hits))


def _paragraph_done(text: str) -> bool:
    """The reply has a finished first paragraph and has started another (lists of notes, repeated answers
    follow). A paragraph that ends in ":" or an opened formula ("\\[") is not finished: its answer comes next."""
    head, sep, _ = text.strip().partition("\n\n")
    head = head.rstrip()
    return bool(sep) and bool(head) and not head.endswith((":", "\\[", "$$"))


def _ms(start: float, end: float) -> float:
    return round((end - start) * 1000, 1)
