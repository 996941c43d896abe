"""Reading one note for a client (MCP's ``read_note`` and ``notes://`` resources), and listing the notes.

Only notes the served index version holds are read, and only inside its notes folder: a name with ``..``, an
absolute path, a NUL byte or a backslash is refused before any file is touched; the file's real path (every link
resolved) must lie inside the folder; then it is read and cleaned exactly as ingest does (``ingest.reading``,
``ingest.cleaning``), so its line numbers are those every citation uses. A read is capped in lines and characters.
Refusals say why in words about the name given, never with a server path.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from index.store import Snapshot
from ingest.cleaning import clean
from ingest.reading import Skipped, read_note
from ingest.types import HEADING_SEP, Chunk

MAX_LINES = 400  # lines returned by one read
MAX_CHARS = 40_000  # characters returned by one read (a longer line is cut)
MAX_NAME_CHARS = 1000
_DRIVE = re.compile(r"^[A-Za-z]:")


class NoteRefused(ValueError):
    """The note cannot be read; the message is safe to show a client (no server path)."""


@dataclass(frozen=True)
class NoteInfo:
    file: str  # relative to the notes folder, forward slashes
    title: str
    tags: tuple[str, ...]
    date: str  # the note's date (front matter, else modified day), YYYY-MM-DD; "" when unknown
    modified: str | None  # the file's modification time, ISO 8601 UTC (None: no longer on disk)


@dataclass(frozen=True)
class NoteLines:
    file: str
    title: str
    start_line: int
    end_line: int  # the last line returned (start_line - 1 when none)
    total_lines: int
    lines: tuple[str, ...]
    truncated: bool  # the range asked for went on past what was returned

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


class NoteReader:
    """The notes of one index version, read inside its notes folder."""

    def __init__(self, snapshot: Snapshot, fallback_root: Path, max_file_bytes: int) -> None:
        self.root = Path(snapshot.manifest.notes_root or fallback_root)
        self.indexed = {path for path, record in snapshot.files.items() if record.status == "indexed"}
        self.chunks = snapshot.chunks
        self.max_file_bytes = max_file_bytes

    def notes(self) -> list[NoteInfo]:
        """Every indexed note, by path: its title (its first heading, else its name), tags, date and mtime."""
        first: dict[str, Chunk] = {}
        for chunk in self.chunks:
            if chunk.file not in first or chunk.start_line < first[chunk.file].start_line:
                first[chunk.file] = chunk
        return [_info(file, first.get(file), self._modified(file)) for file in sorted(self.indexed)]

    def read(self, file: str, start_line: int | None = None, end_line: int | None = None) -> NoteLines:
        """Lines ``start_line..end_line`` (1-based, inclusive; default: the whole note) of the cleaned note, at most
        ``MAX_LINES`` lines and ``MAX_CHARS`` characters (``truncated`` says when more was asked for)."""
        name = self.check_name(file)
        path = self.root / name
        try:
            inside = path.resolve(strict=True).is_relative_to(self.root.resolve(strict=True))
        except (OSError, RuntimeError):  # gone since it was indexed, or links that loop
            raise NoteRefused(f"{_shown(name)} is not there now (moved or deleted since it was indexed?)") from None
        if not inside:
            raise NoteRefused(f"{_shown(name)} leads outside the notes folder: not read")
        try:
            raw = read_note(self.root, path, self.max_file_bytes)
        except Skipped as why:
            raise NoteRefused(f"{_shown(name)} cannot be read: {why}") from None
        doc = clean(raw.path, raw.text, raw.modified)
        total = len(doc.lines)
        first = 1 if start_line is None else start_line
        last = total if end_line is None else min(end_line, total)
        if first < 1 or first > total:
            raise NoteRefused(f"start_line {first} is outside {_shown(name)}, which has {total} lines")
        if last < first:
            raise NoteRefused(f"end_line {end_line} is before start_line {first}")
        lines: list[str] = []
        budget = MAX_CHARS
        for line in doc.lines[first - 1 : last]:
            if len(lines) == MAX_LINES or budget <= 0:
                break
            cut = line if len(line) <= budget else line[: max(budget, 0)] + " …[line cut]"
            lines.append(cut)
            budget -= len(cut) + 1
        end = first + len(lines) - 1
        truncated = end < last or (bool(lines) and lines[-1] != doc.lines[end - 1])
        title = doc.title or _title(name, self._first_chunk(name))
        return NoteLines(name, title, first, end, total, tuple(lines), truncated)

    def check_name(self, file: str) -> str:
        """The name as a path relative to the notes folder, if it may be read at all (``NoteRefused`` if not)."""
        name = file.strip()
        if not name:
            raise NoteRefused("file is empty: give a note's path inside the notes folder, e.g. ml/cnn.md")
        if len(name) > MAX_NAME_CHARS:
            raise NoteRefused(f"file is {len(name):,} characters long; a note's path has at most {MAX_NAME_CHARS}")
        if "\x00" in name or "\\" in name:
            raise NoteRefused("file holds a NUL byte or a backslash: give a path with forward slashes")
        if name.startswith(("/", "~")) or _DRIVE.match(name):
            raise NoteRefused("file must be a path inside the notes folder, not an absolute path")
        parts = [p for p in PurePosixPath(name).parts if p != "."]
        if ".." in parts:
            raise NoteRefused("file must stay inside the notes folder ('..' is not allowed)")
        name = "/".join(parts)
        if name not in self.indexed:
            raise NoteRefused(f"{_shown(name)} is not a note in the index (search_notes or the notes list names them)")
        return name

    def _first_chunk(self, file: str) -> Chunk | None:
        return min((c for c in self.chunks if c.file == file), key=lambda c: c.start_line, default=None)

    def _modified(self, file: str) -> str | None:
        try:
            seconds = (self.root / file).stat().st_mtime
        except OSError:
            return None
        return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds")


def _info(file: str, chunk: Chunk | None, modified: str | None) -> NoteInfo:
    tags, day = (chunk.tags, chunk.date) if chunk else ((), "")
    return NoteInfo(file, _title(file, chunk), tags, day, modified)


def _title(file: str, chunk: Chunk | None) -> str:
    heading = chunk.heading.split(HEADING_SEP)[0].strip() if chunk else ""
    return heading or PurePosixPath(file).stem


def _shown(name: str) -> str:
    return repr(name if len(name) <= 120 else name[:117] + "...")
