"""Pydantic models at the MCP edge: what the tools return (their output schemas), built from the pipeline's types."""

from __future__ import annotations

from pydantic import BaseModel, Field

from index.search import Hit
from service.pipeline.answering import AbstainReason, Answer, AnswerKind
from service.pipeline.evidence import Evidence
from service.pipeline.links import NoteLinks
from service.pipeline.note_reader import NoteInfo, NoteLines


def link_of(links: NoteLinks, file: str, line: int, heading: str) -> str | None:
    """The link that opens the note: obsidian:// in an Obsidian vault, else file:// at the line."""
    return links.obsidian_uri(file) or links.file_uri(file, line, heading)


class Passage(BaseModel):
    """One retrieved passage: the exact text of lines ``start_line..end_line`` of ``file``."""

    rank: int
    file: str = Field(description="path inside the notes folder (read it whole with read_note)")
    heading: str = Field(description="the heading path the passage sits under")
    start_line: int
    end_line: int
    score: float
    text: str
    link: str | None = Field(None, description="opens the note: obsidian:// in an Obsidian vault, else file://")
    also_in: list[str] = Field(default_factory=list, description="other files holding the same passage")

    @classmethod
    def of(cls, hit: Hit, links: NoteLinks) -> Passage:
        c = hit.chunk
        return cls(
            rank=hit.rank, file=c.file, heading=c.heading, start_line=c.start_line, end_line=c.end_line,
            score=round(hit.score, 4), text=c.text, link=link_of(links, c.file, c.start_line, c.heading),
            also_in=[f"{loc.file}:{loc.start_line}-{loc.end_line}" for loc in c.also_in],
        )  # fmt: skip


class SearchNotesResult(BaseModel):
    query: str
    passages: list[Passage] = Field(description="best first")


class EvidenceQuote(BaseModel):
    """An evidence unit the answer rests on: ``quote`` is exactly lines ``start_line..end_line`` of ``file``; the
    answer cites it as ``[n]``."""

    n: int
    quote: str
    file: str
    heading: str
    start_line: int
    end_line: int
    score: float
    cited: bool = Field(description="the answer cites it")
    link: str | None = None

    @classmethod
    def of(cls, evidence: Evidence, cited: bool, links: NoteLinks) -> EvidenceQuote:
        u = evidence.unit
        return cls(
            n=evidence.n, quote=u.text, file=u.file, heading=u.heading, start_line=u.start_line, end_line=u.end_line,
            score=evidence.score, cited=cited, link=link_of(links, u.file, u.start_line, u.heading),
        )  # fmt: skip


class AskNotesResult(BaseModel):
    answer: str = Field(description="a short answer citing evidence as [n], or exactly 'no answer found'")
    abstained: bool = Field(description="true when the notes do not answer the question")
    abstain_reason: AbstainReason | None = Field(
        None, description="not_answerable: the notes do not say; no_passages: nothing was found"
    )
    kind: AnswerKind = Field(description="generated: a checked model answer; quote: the best evidence, quoted")
    query: str = Field(description="the question as searched")
    evidence: list[EvidenceQuote] = Field(description="the quotes the answer rests on, numbered as [n] cites them")
    related: list[Passage] = Field(
        default_factory=list, description="with 'no answer found': the closest passages, to check by hand"
    )

    @classmethod
    def of(cls, answer: Answer, links: NoteLinks, related: int = 3) -> AskNotesResult:
        cited = {c.n for c in answer.citations}
        return cls(
            answer=answer.text,
            abstained=answer.abstained,
            abstain_reason=answer.reason,
            kind=answer.kind,
            query=answer.query or answer.question,
            evidence=[EvidenceQuote.of(e, e.n in cited, links) for e in answer.evidence],
            related=[Passage.of(h, links) for h in answer.hits[:related]] if answer.abstained else [],
        )


class NoteText(BaseModel):
    file: str
    title: str
    start_line: int
    end_line: int = Field(description="the last line returned")
    total_lines: int
    text: str = Field(description="the note's lines start_line..end_line, as indexed (front matter blanked)")
    truncated: bool = Field(description="more was asked for than one read returns")
    next_start_line: int | None = Field(None, description="where to go on reading, when truncated")

    @classmethod
    def of(cls, note: NoteLines) -> NoteText:
        return cls(
            file=note.file, title=note.title, start_line=note.start_line, end_line=note.end_line,
            total_lines=note.total_lines, text=note.text, truncated=note.truncated,
            next_start_line=note.end_line + 1 if note.truncated and note.end_line < note.total_lines else None,
        )  # fmt: skip


def describe(note: NoteInfo) -> str:
    """A note in one line for a resource list: its tags and date."""
    parts = [" ".join(f"#{t}" for t in note.tags), f"dated {note.date}" if note.date else ""]
    return "; ".join(p for p in parts if p) or "a note"
