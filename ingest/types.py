"""Types shared by the stages: a cleaned document, the chunks cut from it, what ingest learned about each file, and
the error for a missing model. Later stages (index, service, eval) import them; this module imports no stage."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

DocFormat = Literal["markdown", "plaintext", "flashcards"]
HEADING_SEP = " › "
# What an answer unit is (``ingest.units``); ``lead_in`` ("Pros:", "The following command does it:") is never used alone.
UnitKind = Literal["prose", "definition", "formula", "list", "code", "table_row", "lead_in"]


def _norm(text: str) -> str:
    return re.sub(r"[^0-9a-z]+", "", text.lower())


@dataclass(frozen=True)
class Location:
    """Where a passage lives: file (relative to the notes folder), heading path and 1-based line span."""

    file: str
    heading: str
    start_line: int
    end_line: int


@dataclass(frozen=True)
class AnswerUnit:
    """A piece of a passage an answer can rest on (``ingest.units``). ``text`` is exactly the note's text from the
    unit's first to its last character, on lines ``start_line..end_line``."""

    text: str
    start_line: int
    end_line: int
    kind: UnitKind
    context: str = ""  # the heading (and lead-in or table header) it sits under: shown with it, never quoted
    lead: bool = False  # the first unit under its heading (a flashcard's answer, a section's opening statement)

    def display(self) -> str:
        """What the embedder and the generator read: the context, then the text (context left out when the text
        already holds it)."""
        if self.kind == "code":  # code keeps its lines
            text = "\n".join(line.rstrip() for line in self.text.strip("\n").split("\n"))
        elif self.kind == "list":  # one item a line
            text = "\n".join(" ".join(line.split()) for line in self.text.split("\n") if line.strip())
        else:
            text = " ".join(self.text.split())
        if self.context and _norm(self.context) not in _norm(text):
            context = " ".join(self.context.split())
            context = context if len(context) <= 100 else context[:99].rstrip() + "…"
            return f"({context}) {text}"
        return text


@dataclass(frozen=True)
class Chunk:
    """One retrievable passage. ``text`` is the original note text of lines start..end (chrome removed)."""

    file: str
    heading: str
    start_line: int
    end_line: int
    text: str
    also_in: tuple[Location, ...] = ()
    # the file line of each line of ``text`` (0: a separator line of no file line); empty in pre-v4 indexes
    lines: tuple[int, ...] = ()
    tags: tuple[str, ...] = ()  # the note's tags (front matter and inline #tags), lower case, without '#'
    date: str = ""  # the note's date, YYYY-MM-DD: front matter `date`, else the file's modification day
    aliases: tuple[str, ...] = ()  # the note's other names (front matter `aliases`, Logseq `alias::`)
    units: tuple[AnswerUnit, ...] = ()  # its answer units, in reading order (empty in indexes before chunker 7)

    @property
    def id(self) -> str:
        return f"{self.file}:{self.start_line}-{self.end_line}"

    @property
    def location(self) -> Location:
        return Location(self.file, self.heading, self.start_line, self.end_line)

    def passage(self) -> str:
        """What the embedder and the generator see: the heading path, then the text.

        When the text already opens with its own heading, only the ancestors are prefixed.
        """
        parts = [p for p in self.heading.split(HEADING_SEP) if p]
        first_line = self.text.lstrip().split("\n", 1)[0]
        if parts and _norm(parts[-1]) and _norm(first_line).startswith(_norm(parts[-1])):
            parts = parts[:-1]
        prefix = HEADING_SEP.join(parts)
        return f"{prefix}\n{self.text}" if prefix else self.text

    def lexical_text(self) -> str:
        """What keyword search matches: the passage and the note's aliases, so a note found by another of its
        names (an abbreviation, say) is found by keyword. Not embedded, not shown to the generator."""
        return "\n".join([self.passage(), *self.aliases])


@dataclass(frozen=True)
class Document:
    """A note after cleaning. ``lines`` keeps the file's line numbering: removed lines are blanked, not dropped."""

    path: str
    lines: tuple[str, ...]
    format: DocFormat
    metadata: dict[str, str] = field(default_factory=dict)
    scraped: bool = False  # a web-page rendering (chrome was stripped): a lossy copy, preferred last in dedup
    tags: tuple[str, ...] = ()
    date: str = ""
    aliases: tuple[str, ...] = ()

    @property
    def title(self) -> str:
        return self.metadata.get("title", "")


@dataclass(frozen=True)
class FileRecord:
    """What ingest learned about one file (stored with each index version, to skip unchanged files next time)."""

    path: str
    sha256: str
    status: str  # indexed | skipped | failed
    reason: str = ""
    n_chunks: int = 0
    scraped: bool = False  # a page scrape (kept last among near-copies): remembered so an unchanged file is not re-read


class UsageError(Exception):
    """A mistake the user can fix (a bad argument, a missing file); the command line prints it as one ``error:``
    line and exits with status 2. Every stage's own usage errors derive from it."""


class ModelUnavailable(RuntimeError):
    """A model could not be found or loaded (message says which and how to install it)."""
