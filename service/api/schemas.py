"""Pydantic models at the HTTP edge (the pipeline's own types are the dataclasses in ``answering``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from index.scope import Scope
from index.search import Hit
from service.pipeline.answering import AbstainReason, Answer, AnswerKind, Citation
from service.pipeline.conversation import Turn
from service.pipeline.evidence import Evidence
from service.pipeline.scoping import ScopeIn

# Passages offered with "no answer found", for the reader to check by hand.
RELATED_ON_ABSTAIN = 3


def validation_problems(errors: Sequence[Any]) -> list[dict[str, Any]]:
    """Request validation errors as ``{loc, msg, type}``: the offending input is not echoed (it may be huge, or a
    value JSON cannot encode, such as 1e309), and long messages are cut."""
    return [
        {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", ""))[:300], "type": e.get("type", "")} for e in errors
    ]


class QuestionRequest(BaseModel):
    question: str = Field(..., description="the question, in plain words", examples=["What is the formula for recall?"])
    top_k: int | None = Field(
        None, ge=1, le=200, strict=True, description="passages to retrieve (default: server setting)"
    )
    scope: ScopeIn | None = Field(None, description="answer only from these notes", examples=[{"tag": "interview"}])

    def scope_filter(self) -> Scope | None:
        return self.scope.to_scope() if self.scope else None

    @field_validator("question")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("question must not be empty or whitespace")
        return value.strip()


class TurnIn(BaseModel):
    role: Literal["user", "assistant"]
    content: str = Field(..., max_length=4000)

    def to_turn(self) -> Turn:
        return Turn(self.role, self.content)


class AskRequest(QuestionRequest):
    history: list[TurnIn] = Field(
        default_factory=list,
        max_length=40,
        description="earlier turns of the conversation, oldest first; a follow-up question is made "
        "self-contained from them before retrieval",
        examples=[[{"role": "user", "content": "What is ReLU?"}, {"role": "assistant", "content": "max(0,x) [1]"}]],
    )

    def turns(self) -> list[Turn]:
        return [turn.to_turn() for turn in self.history]


class SearchRequest(QuestionRequest):
    pass


class EvidenceOut(BaseModel):
    """One evidence unit: the exact text of lines ``lines`` of ``file``; the answer cites it as [n]."""

    n: int
    text: str
    file: str
    heading: str
    lines: tuple[int, int]
    score: float

    @classmethod
    def of(cls, evidence: Evidence) -> EvidenceOut:
        u = evidence.unit
        return cls(
            n=evidence.n, text=u.text, file=u.file, heading=u.heading, lines=(u.start_line, u.end_line),
            score=evidence.score,
        )  # fmt: skip


class CitationOut(BaseModel):
    """A cited evidence unit (``quote``, ``quote_lines``) and the passage it sits in (``text``, ``lines``)."""

    n: int
    file: str
    heading: str
    lines: tuple[int, int]
    score: float
    text: str
    quote: str
    quote_lines: tuple[int, int]
    uri: str | None = Field(None, description="file:// URI of the note, #L<first quoted line>")
    obsidian_uri: str | None = Field(None, description="obsidian://open link, when the notes are an Obsidian vault")

    @classmethod
    def of(cls, citation: Citation) -> CitationOut:
        chunk = citation.hit.chunk
        unit = citation.evidence.unit
        return cls(
            n=citation.n,
            file=chunk.file,
            heading=chunk.heading,
            lines=(chunk.start_line, chunk.end_line),
            score=round(citation.hit.score, 4),
            text=chunk.text,
            quote=unit.text,
            quote_lines=(unit.start_line, unit.end_line),
            uri=citation.uri,
            obsidian_uri=citation.obsidian_uri,
        )


class SearchHit(BaseModel):
    rank: int
    file: str
    heading: str
    lines: tuple[int, int]
    score: float
    text: str
    also_in: list[str] = Field(default_factory=list, description="other files holding the same passage")

    @classmethod
    def of(cls, hit: Hit) -> SearchHit:
        chunk = hit.chunk
        return cls(
            rank=hit.rank,
            file=chunk.file,
            heading=chunk.heading,
            lines=(chunk.start_line, chunk.end_line),
            score=round(hit.score, 4),
            text=chunk.text,
            also_in=[f"{loc.file}:{loc.start_line}-{loc.end_line}" for loc in chunk.also_in],
        )


class SearchResponse(BaseModel):
    hits: list[SearchHit]


class AskResponse(BaseModel):
    answer: str
    abstained: bool
    citations: list[CitationOut]
    evidence: list[EvidenceOut] = Field(
        default_factory=list, description="the evidence units the answer rests on, numbered as [n] cites them"
    )
    kind: AnswerKind = Field("none", description="generated: a checked model answer; quote: the best evidence")
    p_answerable: float | None = Field(None, description="the answerability model's probability")
    timings_ms: dict[str, float]
    query: str = Field(description="the question as searched and asked (a follow-up made self-contained)")
    abstain_reason: AbstainReason | None = None
    related: list[SearchHit] = Field(
        default_factory=list, description="with 'no answer found': the closest passages, to check by hand"
    )

    @classmethod
    def of(cls, answer: Answer) -> AskResponse:
        related = list(answer.hits[:RELATED_ON_ABSTAIN]) if answer.abstained else []
        return cls(
            answer=answer.text,
            abstained=answer.abstained,
            citations=[CitationOut.of(c) for c in answer.citations],
            evidence=[EvidenceOut.of(e) for e in answer.evidence],
            kind=answer.kind,
            p_answerable=answer.p_answerable,
            timings_ms=answer.timings_ms,
            query=answer.query or answer.question,
            abstain_reason=answer.reason,
            related=[SearchHit.of(h) for h in related],
        )


class Health(BaseModel):
    status: str


class Ready(BaseModel):
    ready: bool
    index_version: str | None = None
    indexed_at: str | None = Field(None, description="when the served index version was built (UTC, ISO 8601)")
    chunks: int | None = None
    embedder: str | None = None
    generator: str | None = None
    answerability: str | None = Field(None, description="where the answerability model came from")
    reader: str | None = Field(
        None,
        description="what reads the questions: the packaged embedder or one `notes-qa adapt` fitted to these notes, "
        "and where the unit reader came from",
    )
    detail: str | None = None
