"""Pydantic models at the HTTP edge (the pipeline's own types are the dataclasses in ``answering``)."""

from __future__ import annotations

from pydantic import BaseModel, Field, field_validator

from index.search import Hit
from service.answering import Answer, Citation


class AskRequest(BaseModel):
    question: str = Field(..., description="the question, in plain words", examples=["What is the formula for recall?"])
    top_k: int | None = Field(None, ge=1, le=200, description="passages to retrieve (default: server setting)")

    @field_validator("question")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("question must not be empty or whitespace")
        return value.strip()


class SearchRequest(AskRequest):
    pass


class CitationOut(BaseModel):
    n: int
    file: str
    heading: str
    lines: tuple[int, int]
    score: float
    text: str

    @classmethod
    def of(cls, citation: Citation) -> CitationOut:
        chunk = citation.hit.chunk
        return cls(
            n=citation.n,
            file=chunk.file,
            heading=chunk.heading,
            lines=(chunk.start_line, chunk.end_line),
            score=round(citation.hit.score, 4),
            text=chunk.text,
        )


class AskResponse(BaseModel):
    answer: str
    abstained: bool
    citations: list[CitationOut]
    timings_ms: dict[str, float]

    @classmethod
    def of(cls, answer: Answer) -> AskResponse:
        return cls(
            answer=answer.text,
            abstained=answer.abstained,
            citations=[CitationOut.of(c) for c in answer.citations],
            timings_ms=answer.timings_ms,
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


class Health(BaseModel):
    status: str


class Ready(BaseModel):
    ready: bool
    index_version: str | None = None
    chunks: int | None = None
    embedder: str | None = None
    generator: str | None = None
    threshold: float | None = None
    detail: str | None = None
