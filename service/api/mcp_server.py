"""The MCP server (Model Context Protocol, on the official ``mcp`` SDK): the notes as tools and resources for an
assistant. The same server runs over stdio (``notes-qa mcp``, ``service/api/mcp_stdio.py``) and on the HTTP service at
``/mcp`` (``service/api/mcp_http.py``).

Tools: ``search_notes`` (ranked passages), ``ask_notes`` (the ``/ask`` pipeline: the same answer queue, deadline and
checks, with progress notifications: the evidence first, then the answer) and ``read_note`` (a note's lines, inside
the notes folder only). Resources: every indexed note as ``notes://<path>``. Failures are tool errors with a reason
(never a stack trace or a server path): the SDK returns a raised ``ToolError``'s message with ``isError``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import AbstractAsyncContextManager, contextmanager
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any
from urllib.parse import quote

import anyio
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ToolError
from mcp.types import Annotations
from mcp.types import Resource as McpResource
from pydantic import Field

from index.scope import NothingInScope, Scope
from service.api.admission import AnswerJob, Busy
from service.api.mcp_schemas import AskNotesResult, NoteText, Passage, SearchNotesResult, describe
from service.api.readiness import RETRY_S, UNAVAILABLE, Readiness, public_reason
from service.backends.settings import Settings
from service.pipeline.answering import Answer, Answerer, AnswerUnavailable, EvidenceFound, Token
from service.pipeline.deadline import Deadline
from service.pipeline.links import NoteLinks
from service.pipeline.note_reader import MAX_CHARS, MAX_LINES, NoteInfo, NoteReader, NoteRefused

log = logging.getLogger("notes_qa.mcp")
NOTE_URI = "notes://{+path}"
INSTRUCTIONS = (
    "The user's own notes, searched and answered locally. ask_notes answers a question from the notes only, with "
    "the exact quotes (file and lines) it rests on, or says 'no answer found' when the notes do not say: then do "
    "not answer from elsewhere as if the notes said it. search_notes lists passages; read_note reads a note's lines."
)

READ_NOTE = (
    "Read lines of one note (default: all of it) as they are indexed, so line numbers match the citations. Only "
    f"notes inside the notes folder; at most {MAX_LINES} lines or {MAX_CHARS:,} characters a call (truncated and "
    "next_start_line say how to go on)."
)
Question = Annotated[str, Field(description="the question, in plain words (one question, self-contained)")]
Query = Annotated[str, Field(description="what to look for: a question or a few words")]
TopK = Annotated[int | None, Field(ge=1, le=200, description="passages to retrieve (default: server setting)")]
Folder = Annotated[str | None, Field(description="only notes in this folder of the notes (and its subfolders)")]
Tag = Annotated[str | None, Field(description="only notes with this tag ('#' optional; 'ml' matches 'ml/cv')")]
FileGlob = Annotated[str | None, Field(description="only notes whose path or name matches this glob")]
Since = Annotated[date | None, Field(description="only notes dated on or after YYYY-MM-DD")]
Until = Annotated[date | None, Field(description="only notes dated on or before YYYY-MM-DD")]
NotePath = Annotated[str, Field(description="the note's path inside the notes folder, as search_notes gives it")]
Line = Annotated[int | None, Field(ge=1, description="1-based line number (inclusive)")]


@dataclass(frozen=True)
class Runtime:
    """What the tools need, read when a call arrives: the settings, and the state the host fills when it has
    loaded: ``readiness`` (the answerer, once loaded), ``admission`` (the answer queue, shared with ``/ask``) and
    optionally ``metrics``. The HTTP service passes its ``app.state``; ``notes-qa mcp`` its own."""

    settings: Settings
    state: Callable[[], Any]


class Refused(Exception):
    """A call that cannot be served; the message is what the client is told."""


class NotesServer(MCPServer[Any]):
    """An ``MCPServer`` whose resource list is the served index's notes (it changes with every ingest)."""

    def __init__(self, runtime: Runtime, lifespan: Callable[[Any], AbstractAsyncContextManager[Any]] | None) -> None:
        root = logging.getLogger()
        configured = (list(root.handlers), root.level)
        super().__init__("notes-qa", title="notes-qa: your notes", version="0.1.0", instructions=INSTRUCTIONS,
                         lifespan=lifespan, log_level=runtime.settings.log_level)  # fmt: skip
        root.handlers, root.level = configured  # the SDK sets up logging when nothing has: that is the host's job
        self.runtime = runtime

    async def list_resources(self) -> list[McpResource]:
        try:
            reader = await note_reader(self.runtime)
        except Refused as exc:
            raise ResourceError(str(exc)) from None
        return [_resource(note) for note in await anyio.to_thread.run_sync(reader.notes)]


def build_server(
    runtime: Runtime, lifespan: Callable[[Any], AbstractAsyncContextManager[Any]] | None = None
) -> NotesServer:
    settings = runtime.settings
    server = NotesServer(runtime, lifespan)

    @server.tool(title="Search my notes")
    async def search_notes(query: Query, top_k: TopK = None, folder: Folder = None, tag: Tag = None,
                           file: FileGlob = None, since: Since = None, until: Until = None) -> SearchNotesResult:  # fmt: skip
        """Search the user's notes: the passages that best match, best first, each with its file, heading, line
        span, score and a link that opens the note. No answer is written: use ask_notes for that."""
        with tool_errors():
            question, k, scope = _request(settings, query, top_k, folder, file, tag, since, until)
            qa = await answerer_of(runtime)
            try:
                hits = await anyio.to_thread.run_sync(qa.search, question, k, scope)
                links = await anyio.to_thread.run_sync(links_of, qa)
            except NothingInScope as exc:
                raise Refused(str(exc)) from None
            except UNAVAILABLE as exc:
                raise Refused(_unavailable(exc)) from None
            return SearchNotesResult(query=question, passages=[Passage.of(h, links) for h in hits])

    @server.tool(title="Ask my notes")
    async def ask_notes(question: Question, ctx: Context, top_k: TopK = None, folder: Folder = None, tag: Tag = None,
                        file: FileGlob = None, since: Since = None, until: Until = None) -> AskNotesResult:  # fmt: skip
        """Answer a question from the user's notes only: a short answer citing evidence as [n], and the evidence
        quotes (file, heading, line span, link) it rests on; or exactly 'no answer found' (abstained: true) when
        the notes do not answer it, with the closest passages to check. Reports progress: the evidence first, then
        the answer. Scope filters (folder, tag, file, since, until) keep it to some notes."""
        with tool_errors():
            asked, k, scope = _request(settings, question, top_k, folder, file, tag, since, until)
            qa = await answerer_of(runtime)
            answer = await _answer(runtime, qa, asked, k, scope, ctx)
            links = await anyio.to_thread.run_sync(links_of, qa)
            await ctx.report_progress(3, 3, "no answer found" if answer.abstained else "answer ready")
            return AskNotesResult.of(answer, links)

    @server.tool(title="Read a note", description=READ_NOTE)
    async def read_note(file: NotePath, start_line: Line = None, end_line: Line = None) -> NoteText:
        with tool_errors():
            reader = await note_reader(runtime)
            try:
                return NoteText.of(await anyio.to_thread.run_sync(reader.read, file, start_line, end_line))
            except NoteRefused as exc:
                raise Refused(str(exc)) from None

    @server.resource(NOTE_URI, name="note", title="A note", mime_type="text/plain",
                     description="A note of the notes folder, as indexed (list them with resources/list)")  # fmt: skip
    async def note(path: str) -> str:
        try:
            reader = await note_reader(runtime)
            lines = await anyio.to_thread.run_sync(reader.read, path, None, None)
        except (Refused, NoteRefused) as exc:
            raise ResourceError(str(exc)) from None
        more = f"\n…[truncated at line {lines.end_line} of {lines.total_lines}: read_note reads on]"
        return lines.text + (more if lines.truncated else "")

    @server.prompt(name="answer_from_notes", title="Answer from my notes")
    def answer_from_notes(question: str) -> str:
        """Answer a question from the user's notes only, citing them."""
        return (
            "Answer from my notes only. Call the ask_notes tool with the question below, then give its answer and "
            "quote the evidence it cites with file and lines. If it says 'no answer found', say that my notes do not "
            f"answer it rather than answering from elsewhere.\n\nQuestion: {question}"
        )

    return server


@contextmanager
def tool_errors() -> Iterator[None]:
    """Turn a ``Refused`` into the SDK's ``ToolError``: an ``isError`` result whose text is the reason."""
    try:
        yield
    except Refused as exc:
        raise ToolError(str(exc)) from None


async def answerer_of(runtime: Runtime) -> Answerer:
    """The answerer once models and index are loaded (a process that is not ready tries again, in a thread)."""
    readiness: Readiness | None = getattr(runtime.state(), "readiness", None)
    if readiness is None:
        raise Refused(f"the models and the index are still loading; retry in {RETRY_S:g} s")
    if not readiness.ready and not await anyio.to_thread.run_sync(readiness.check):
        raise Refused(f"not ready: {readiness.error}; retry in {RETRY_S:g} s")
    return readiness.answerer


def links_of(qa: Answerer) -> NoteLinks:
    """Links into the served version's notes folder (reading the version may load a new one: call in a thread)."""
    return NoteLinks.of(qa.retriever.manifest)


async def note_reader(runtime: Runtime) -> NoteReader:
    qa = await answerer_of(runtime)
    try:
        snapshot = await anyio.to_thread.run_sync(qa.retriever.snapshot)
    except UNAVAILABLE as exc:
        raise Refused(_unavailable(exc)) from None
    return NoteReader(snapshot, runtime.settings.notes_dir, runtime.settings.max_file_bytes)


async def _answer(
    runtime: Runtime, qa: Answerer, question: str, k: int | None, scope: Scope | None, ctx: Context
) -> Answer:
    """The ``/ask`` pipeline: a place in the shared answer queue (``Busy`` at once when it is full), the answer's
    own thread under the total deadline; progress for the evidence and for the first token."""
    state = runtime.state()
    try:
        job = AnswerJob.start(qa, state.admission, Deadline(runtime.settings.answer_timeout_s), question, k, (),
                              scope=scope)  # fmt: skip
    except (NothingInScope, Busy) as exc:
        raise Refused(str(exc)) from None  # Busy says "...; retry in N s"
    except UNAVAILABLE as exc:
        raise Refused(_unavailable(exc)) from None
    writing = False
    try:
        async for event in job.events():
            if isinstance(event, EvidenceFound):
                await ctx.report_progress(1, 3, _evidence_message(event))
            elif isinstance(event, Token) and not writing:
                writing = True
                await ctx.report_progress(2, 3, "writing the answer")
            elif isinstance(event, Answer):
                if (metrics := getattr(state, "metrics", None)) is not None:
                    metrics.observe_answer(event)
                return event
    except NothingInScope as exc:
        raise Refused(str(exc)) from None
    except UNAVAILABLE as exc:  # AnswerTimeout included: the reason and the passages found so far
        raise Refused(_unavailable(exc)) from None
    finally:
        job.cancel()  # done, failed or the call was cancelled: the generation stops
    raise Refused("the answer ended without a result; retry")


def _request(settings: Settings, text: str, top_k: int | None, folder: str | None, file: str | None,
             tag: str | None, since: date | None, until: date | None) -> tuple[str, int | None, Scope | None]:  # fmt: skip
    """The question, top_k and scope checked against the settings (the limits ``/ask`` applies)."""
    question = text.strip()
    if not question:
        raise Refused("the question is empty")
    if len(question) > settings.max_question_chars:
        raise Refused(f"the question is {len(question):,} characters; the limit is {settings.max_question_chars:,}")
    if top_k is not None and top_k > settings.max_top_k:
        raise Refused(f"top_k must be between 1 and {settings.max_top_k}")
    for name, value in (("folder", folder), ("file", file), ("tag", tag)):
        if value is not None and len(value) > 500:
            raise Refused(f"{name} is {len(value):,} characters; the limit is 500")
    try:
        scope = Scope(folder, file, tag, since, until)
    except ValueError as exc:
        raise Refused(f"scope: {exc}") from None
    return question, top_k, None if scope.is_everything else scope


def _unavailable(exc: BaseException) -> str:
    """The public reason, and the passages found so far when retrieval worked (details go to the log only)."""
    log.warning("MCP call unavailable: %s", exc)
    reason = public_reason(exc)
    if isinstance(exc, AnswerUnavailable) and exc.hits:
        found = "; ".join(f"{h.chunk.file} ({_lines(h.chunk.start_line, h.chunk.end_line)})" for h in exc.hits[:5])
        reason += f". Passages found: {found}"
    return reason


def _evidence_message(found: EvidenceFound) -> str:
    if not found.evidence:
        return "no passages found"
    return "evidence: " + "; ".join(f"[{e.n}] {e.unit.file} ({_lines(e.unit.start_line, e.unit.end_line)})"
                                    for e in found.evidence)  # fmt: skip


def _lines(first: int, last: int) -> str:
    return f"lines {first}–{last}" if last > first else f"line {first}"


def _resource(note: NoteInfo) -> McpResource:
    return McpResource(
        uri="notes://" + quote(note.file, safe="/"),
        name=note.file,
        title=note.title,
        description=describe(note),
        mime_type=_mime(note.file),
        annotations=Annotations(last_modified=note.modified) if note.modified else None,
    )


def _mime(file: str) -> str:
    return "text/markdown" if file.lower().endswith((".md", ".markdown", ".org")) else "text/plain"
