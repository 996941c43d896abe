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
from dataclasses import dataclass, field, replace
from typing import Literal

from index.scope import Scope
from index.search import Hit
from service.answerability import AnswerabilityModel, check_draft, default_model, features, quote_answer
from service.conversation import Turn, contextualize
from service.deadline import Deadline
from service.evidence import Evidence, question_terms, select_evidence
from service.generator import Generator, GeneratorUnavailable
from service.injection import addresses_assistant
from service.links import NoteLinks
from service.prompting import NO_ANSWER, build_prompt
from service.retriever import Retriever

AbstainReason = Literal["no_passages", "not_answerable"]
AnswerKind = Literal["generated", "quote", "none"]
INJECTION_SPARE = 3  # extra passages retrieved so that ones passed over as injections can be replaced


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
    ) -> None:
        self.retriever = retriever
        self.generator = generator
        self.top_k = top_k
        self._answerability = answerability

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
        if self._answerability is not None:
            return self._answerability
        stored = self.retriever.manifest.answerability
        return AnswerabilityModel.from_dict(stored) if stored else default_model()

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
        hits, evidence = self.gather(question, top_k, scope)
        retrieved = time.perf_counter()
        timings = {"retrieve": _ms(started, retrieved)}
        yield EvidenceFound(evidence)
        if not evidence:
            timings.update(generate=0.0, total=_ms(started, time.perf_counter()))
            yield Token(NO_ANSWER)
            yield Answer(asked, NO_ANSWER, True, (), tuple(hits), timings, "no_passages", question)
            return
        model = self.answerability
        signals = self.signals(question, hits, evidence)
        p = round(model.probability(signals), 4)
        if not model.answers(signals):  # the notes do not answer it: no generation at all
            timings.update(generate=0.0, total=_ms(started, time.perf_counter()))
            yield Token(NO_ANSWER)
            yield Answer(asked, NO_ANSWER, True, (), tuple(hits), timings, "not_answerable", question, evidence,
                         p_answerable=p, signals=signals)  # fmt: skip
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
        draft = check_draft(question, reply, evidence)
        kind: AnswerKind = "generated"
        text, cited = draft.text, draft.cited
        if not draft.kept:  # the model failed, not the notes: quote the evidence instead of abstaining
            kind = "quote"
            text, cited = quote_answer(evidence)
        links = NoteLinks.of(self.retriever.manifest)
        citations = tuple(
            Citation(
                n, e, links.file_uri(e.unit.file, e.unit.start_line, e.unit.heading), links.obsidian_uri(e.unit.file)
            )
            for n, e in ((n, evidence[n - 1]) for n in cited)
        )
        yield Answer(asked, text, False, citations, tuple(hits), timings, None, question, evidence, kind, reply,
                     p, signals, draft.problem)  # fmt: skip

    def gather(
        self, question: str, top_k: int | None = None, scope: Scope | None = None
    ) -> tuple[list[Hit], tuple[Evidence, ...]]:
        """The retrieved passages and the evidence units chosen from them. A passage that talks to the assistant
        (prompt injection planted in a note) is passed over: the next one takes its place."""
        k = top_k or self.top_k
        snapshot = self.retriever.snapshot()  # one version for the whole answer, whatever ingest swaps in meanwhile
        query_vector = self.retriever.embedder.embed([question])[0]
        hits = self.retriever.search_vector(question, query_vector, k, scope, snapshot)
        if any(addresses_assistant(h.chunk.text) for h in hits):
            found = self.retriever.search_vector(question, query_vector, k + INJECTION_SPARE, scope, snapshot)
            trusted = [h for h in found if not addresses_assistant(h.chunk.text)][:k]
            hits = [h if h.rank == rank else replace(h, rank=rank) for rank, h in enumerate(trusted, 1)]
        return hits, tuple(select_evidence(question, hits, snapshot, query_vector))

    def signals(self, question: str, hits: Sequence[Hit], evidence: Sequence[Evidence]) -> dict[str, float]:
        """The answerability model's inputs: known before any generation."""
        return features(question, max(h.score for h in hits), evidence, self._unknown_share(question))

    def _unknown_share(self, question: str) -> float:
        asked = question_terms(question)
        return len(self.retriever.snapshot().bm25.unknown(asked)) / len(asked) if asked else 0.0


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
