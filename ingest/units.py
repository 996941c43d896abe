"""Answer units: the pieces of a passage that an answer can rest on and a citation can quote, cut from the
chunker's own block structure when a note is chunked (stored with the chunk, embedded once at ingest).

A unit is a whole answering structure, never a fragment of one:
- a list together with the line that leads into it ("The main differences are:") — a long list is cut into
  groups, each carrying the lead-in as its context;
- a code block together with the sentence that introduces it ("It turns out you can fix this using a subselect:");
- a table row, with the table's header row (and the table's lead-in) as its context;
- a flashcard's answer, with its question as context; a definition or any other paragraph, cut at sentence ends
  into pieces of at most ``UNIT_MAX_CHARS`` (a markdown paragraph wrapped over several lines is one paragraph; in
  plain text a line is a statement).
A line that only leads into something ("Pros:", "The following command does it:") is joined to what follows it;
when nothing follows in the passage it is kept as a ``lead_in`` unit, which is never used alone.

``text`` is always exactly the document's text between the unit's first and last character (lines in between
included), so a quote of a unit is a quote of the note.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass

from ingest.types import AnswerUnit, DocFormat, UnitKind

UNIT_MAX_CHARS = 280  # prose: sentences are packed up to this
GROUP_MAX_CHARS = 500  # a list or code block stays whole up to this; a longer one is cut into groups
LEAD_IN_MAX_CHARS = 200  # a longer sentence before a list or code block is not its lead-in
SHORT_UNIT_CHARS = 40  # a sentence shorter than this joins its neighbour
INTRO_GAP_LINES = 2
TITLE_MAX_CHARS = 80  # a line this short without a sentence end, right above a list, names the list  # a lead-in ends at most this many lines above what it introduces

_LIST_ITEM = re.compile(r"^\s*([-*+•]|\d{1,2}[.)])\s+\S")
_TABLE_ROW = re.compile(r"^\s*\|.*\|\s*$")
_TABLE_RULE = re.compile(r"^\s*\|?[\s:|-]+\|?\s*$")
# Sentence ends, and inline list markers (" - item", " 2. item") in a flashcard answer written on one line.
# A line break before a capital starts a statement too (notes written a statement a line); a wrapped sentence's
# next line starts in lower case.
_SPLIT_POINT = re.compile(
    r"(?<=[.!?:;])\s+(?=[\"'(\[A-Z0-9*`-])|\s+(?=-\s+\w)|\s+(?=\d{1,2}\.\s+[A-Z])|[ \t]*\n\s*(?=[\"'(\[A-Z0-9*`])"
)
_INLINE_ITEM = re.compile(r"^(\d{1,2}[.)]|[-•])\s")
_TRAILING_MARKER = re.compile(r"(^|\s)(\d{1,2}[.)]|[-*+•])$")
# "TERM is/are/means …", "TERM: …", "TERM - …" with a term of at most five words.
_DEFINITION = re.compile(
    r"^\W{0,3}(?:the |an? )?[\w'’/().+-]+(?: [\w'’/().+-]+){0,4}\W{0,3}"
    r"(?:\s+(?:is|are|refers to|means|stands for)\b|\s*[:–—]\s|\s*-\s)",
    re.IGNORECASE,
)
_LEAD_END = re.compile(r"[:：]\s*[-–—]?$")  # "Pros:", "Benefits:-"
_COMMENT = re.compile(r"^\s*<!--.*-->\s*$")
_FORMULA = re.compile(r"[\w)\]]\s*[=≈<>≤≥]\s*\S")

Pos = tuple[int, int]  # (0-based index into the document's lines, column)


@dataclass(frozen=True)
class Segment:
    """One block of a chunk, as ``build_units`` reads it: its kind and its lines (0-based document line, the
    text of that line the block holds — a piece of the line when a huge line was cut)."""

    kind: str  # heading | paragraph | code | table
    lines: tuple[tuple[int, str], ...]
    title: str = ""  # headings: the heading's text


@dataclass
class _Draft:
    start: Pos
    end: Pos
    kind: UnitKind
    context: str
    lead: bool


def build_units(
    doc_lines: Sequence[str], segments: Sequence[Segment], fmt: DocFormat, context: str
) -> tuple[AnswerUnit, ...]:
    """The answer units of one chunk, in reading order. ``context`` is the chunk's own heading."""
    return _Builder(doc_lines, fmt, context).run(segments)


class _Builder:
    def __init__(self, doc_lines: Sequence[str], fmt: DocFormat, context: str) -> None:
        self.lines = doc_lines
        self.fmt = fmt
        self.context = context
        self.after_heading = False
        self.units: list[_Draft] = []

    def run(self, segments: Sequence[Segment]) -> tuple[AnswerUnit, ...]:
        for seg in segments:
            if not seg.lines:
                continue
            if seg.kind == "heading":
                self.context, self.after_heading = seg.title or self.context, True
            elif seg.kind == "code":
                self._code(seg)
            elif seg.kind == "table":
                self._table([(i, self._where(i, t)) for i, t in seg.lines])
            else:
                self._paragraph(seg)
        out: list[AnswerUnit] = []
        drafts = self._lead_ins_joined()
        for d in drafts:
            text = self.text(d.start, d.end)
            kind: UnitKind = "lead_in" if d.kind in ("prose", "definition") and _is_lead_in(text) else d.kind
            out.append(AnswerUnit(text, d.start[0] + 1, d.end[0] + 1, kind, d.context, d.lead))
        return tuple(out)

    def _lead_ins_joined(self) -> list[_Draft]:
        """A lead-in still alone ("… looked like this:") takes the unit right below it (a quote, an inline
        command, a paragraph), as a list or code block takes theirs."""
        out: list[_Draft] = []
        for d in self.units:
            prev = out[-1] if out else None
            if (
                prev is not None
                and prev.kind in ("prose", "definition")
                and _is_lead_in(self.text(prev.start, prev.end))
                and d.start[0] <= prev.end[0] + INTRO_GAP_LINES
                and len(self.text(prev.start, d.end)) <= GROUP_MAX_CHARS + LEAD_IN_MAX_CHARS
            ):
                out[-1] = _Draft(prev.start, d.end, d.kind, prev.context, prev.lead)
            else:
                out.append(d)
        return out

    # -- positions and text ------------------------------------------------------------------------------------

    def text(self, start: Pos, end: Pos) -> str:
        (i, a), (j, b) = start, end
        if i == j:
            return self.lines[i][a:b]
        return "\n".join([self.lines[i][a:], *self.lines[i + 1 : j], self.lines[j][:b]])

    def _where(self, i: int, piece: str) -> tuple[int, int]:
        """Columns of ``piece`` in document line ``i`` (a chunk may hold a piece of a huge line)."""
        line = self.lines[i]
        if piece == line:
            return _trimmed(line, 0, len(line))
        at = line.find(piece.strip()[:60])
        if at < 0:
            return _trimmed(line, 0, len(line))
        return _trimmed(line, at, min(len(line), at + len(piece.strip())))

    def _add(self, start: Pos, end: Pos, kind: UnitKind, context: str | None = None) -> None:
        if not self.text(start, end).strip():
            return
        self.units.append(_Draft(start, end, kind, self.context if context is None else context, self.after_heading))
        self.after_heading = False

    # -- structures --------------------------------------------------------------------------------------------

    def _take_intro(self, first_line: int, colon_only: bool) -> _Draft | None:
        """The unit just above ``first_line`` that introduces what starts there (a list, a code block, a table),
        taken off the unit list; only its last sentence when it is longer than a lead-in."""
        if not self.units:
            return None
        prev = self.units[-1]
        if prev.kind not in ("prose", "definition", "lead_in") or prev.end[0] < first_line - INTRO_GAP_LINES:
            return None
        text = self.text(prev.start, prev.end)
        colon = _is_lead_in(text)
        if colon_only and not colon and not _is_title(text):
            return None
        limit = LEAD_IN_MAX_CHARS * 2 if colon else LEAD_IN_MAX_CHARS  # a sentence ending in ':' surely leads in
        cut = _last_sentence_start(text)
        if len(text) - (cut or 0) > limit:
            return None
        if cut:  # only the last sentence introduces; the ones before stay a unit of their own
            head_end = _advance(self.lines, prev.start, len(text[:cut].rstrip()))
            intro = _Draft(_advance(self.lines, prev.start, cut), prev.end, prev.kind, prev.context, False)
            self.units[-1] = _Draft(prev.start, head_end, prev.kind, prev.context, prev.lead)
            return intro
        self.units.pop()
        self.after_heading = self.after_heading or prev.lead
        return prev

    def _grouped(self, items: list[tuple[Pos, Pos]], kind: UnitKind, intro: _Draft | None) -> None:
        """Consecutive items (list items, code lines) packed into groups up to GROUP_MAX_CHARS; the first group
        starts at the intro, later ones carry the intro as their context."""
        groups: list[list[tuple[Pos, Pos]]] = []
        size = len(self.text(intro.start, intro.end)) if intro else 0
        for item in items:
            length = len(self.text(*item))
            if groups and size + length <= GROUP_MAX_CHARS:
                groups[-1].append(item)
                size += length
            else:
                groups.append([item])
                size = length + (len(self.text(intro.start, intro.end)) if intro and not groups[:-1] else 0)
        intro_text = _short(" ".join(self.text(intro.start, intro.end).split())) if intro else ""
        for n, group in enumerate(groups):
            start = intro.start if intro and n == 0 else group[0][0]
            context = self.context if n == 0 or not intro_text else f"{self.context} › {intro_text}".strip(" ›")
            self._add(start, group[-1][1], kind, context)

    def _code(self, seg: Segment) -> None:
        first = seg.lines[0][0]
        intro = self._take_intro(first, colon_only=False)
        rows = [(i, (0, len(self.lines[i]))) for i, _ in seg.lines]
        self._grouped([((i, a), (i, b)) for i, (a, b) in rows], "code", intro)

    def _table(self, rows: list[tuple[int, tuple[int, int]]]) -> None:
        intro = self._take_intro(rows[0][0], colon_only=True)
        header = ""
        body = rows
        if len(rows) > 1 and _TABLE_RULE.match(self.lines[rows[1][0]]):
            header = " | ".join(c.strip() for c in self.lines[rows[0][0]].strip().strip("|").split("|"))
            body = rows[2:]
        lead = _short(" ".join(self.text(intro.start, intro.end).split())) if intro else ""
        context = " › ".join(p for p in (self.context, lead, header) if p)
        for i, (a, b) in body:
            if not _TABLE_RULE.match(self.lines[i]):
                self._add((i, a), (i, b), "table_row", context)

    def _paragraph(self, seg: Segment) -> None:
        runs: list[tuple[str, list[tuple[int, tuple[int, int]]]]] = []
        for i, piece in seg.lines:
            line = self.lines[i]
            cols = self._where(i, piece)
            if _LIST_ITEM.match(line):
                cls = "item"
            elif _TABLE_ROW.match(line):
                cls = "row"
            elif runs and runs[-1][0] == "list" and (line[:1].isspace() or self.fmt == "markdown"):
                cls = "cont"  # an indented line (or markdown's lazy continuation) belongs to the item above
            else:
                cls = "prose"
            group = "list" if cls in ("item", "cont") else cls
            if runs and runs[-1][0] == group and not (group == "prose" and self.fmt != "markdown"):
                runs[-1][1].append((i, cols))
            else:
                runs.append((group, [(i, cols)]))
        for group, rows in runs:
            if all(_COMMENT.match(self.lines[i]) for i, _ in rows):
                continue  # an HTML comment says nothing to a reader
            if group == "list":
                self._list(rows)
            elif group == "row":
                self._table(rows)
            else:
                self._prose(rows)

    def _list(self, rows: list[tuple[int, tuple[int, int]]]) -> None:
        """Items (a marker line and its continuation lines) grouped with their lead-in; an item longer than a
        group is cut into sentences like prose, under the lead-in."""
        items: list[tuple[Pos, Pos]] = []
        for i, (a, b) in rows:
            if _LIST_ITEM.match(self.lines[i]) or not items:
                items.append(((i, a), (i, b)))
            else:
                items[-1] = (items[-1][0], (i, b))
        intro = self._take_intro(rows[0][0], colon_only=True)
        batch: list[tuple[Pos, Pos]] = []
        for item in items:
            if len(self.text(*item)) <= GROUP_MAX_CHARS:
                batch.append(item)
                continue
            if batch:
                self._grouped(batch, "list", intro)
                batch = []
            elif intro:
                self.units.append(intro)  # stays a lead-in: the long item below carries it as context
            context = self.context
            if intro:
                context = f"{self.context} › {_short(' '.join(self.text(intro.start, intro.end).split()))}".strip(" ›")
            intro = None
            self._prose_span(item[0], item[1], context)
        if batch:
            self._grouped(batch, "list", intro)

    def _prose(self, rows: list[tuple[int, tuple[int, int]]]) -> None:
        """One paragraph (markdown: its wrapped lines together; plain text: one line), cut at sentence ends into
        pieces packed up to UNIT_MAX_CHARS. A piece that leads into the next (ends in ':' or is a bare list
        marker) never ends a unit."""
        self._prose_span((rows[0][0], rows[0][1][0]), (rows[-1][0], rows[-1][1][1]))

    def _prose_span(self, start: Pos, end: Pos, context: str | None = None) -> None:
        text = self.text(start, end)
        cuts = [0] + [m.end() for m in _SPLIT_POINT.finditer(text)] + [len(text)]
        pieces = [(a, b) for a, b in itertools.pairwise(cuts) if text[a:b].strip()]
        spans: list[tuple[int, int]] = []
        listing = False  # the current span holds a lead-in or inline list items: later items stay with it
        for a, b in pieces:
            piece = text[a:b].strip()
            item = bool(_INLINE_ITEM.match(piece))
            if spans:
                current = text[spans[-1][0] : spans[-1][1]].strip()
                if _leads_on(current):
                    join = True
                elif item and listing:
                    join = b - spans[-1][0] <= GROUP_MAX_CHARS
                elif _is_lead_in(piece) and len(current) >= SHORT_UNIT_CHARS:
                    join = False  # a lead-in starts the unit of what it leads into
                else:
                    join = b - spans[-1][0] <= UNIT_MAX_CHARS or len(current) < SHORT_UNIT_CHARS
                if join:
                    spans[-1] = (spans[-1][0], b)
                    listing = listing or item or _leads_on(piece)
                    continue
            spans.append((a, b))
            listing = item or _leads_on(piece)
        for a, b in spans:
            piece = text[a:b]
            b = a + len(piece.rstrip())
            a += len(piece) - len(piece.lstrip())
            body = text[a:b]
            kind: UnitKind = "formula" if _is_formula(body) else "definition" if _DEFINITION.match(body) else "prose"
            self._add(_advance(self.lines, start, a), _advance(self.lines, start, b), kind, context)


def _advance(lines: Sequence[str], start: Pos, offset: int) -> Pos:
    """The position ``offset`` characters after ``start`` in the document's text (newlines count one)."""
    i, col = start
    remaining = offset
    while remaining > len(lines[i]) - col and i + 1 < len(lines):
        remaining -= len(lines[i]) - col + 1
        i, col = i + 1, 0
    return i, col + remaining


def _trimmed(line: str, a: int, b: int) -> tuple[int, int]:
    piece = line[a:b]
    return a + len(piece) - len(piece.lstrip()), a + len(piece.rstrip())


def _is_lead_in(text: str) -> bool:
    return bool(_LEAD_END.search(text.strip().rstrip("*_ ")))


def _is_title(text: str) -> bool:
    """A short line that names what follows ("Problems that can be solved using SVM", "Benefits") rather than
    saying something: one line, no sentence end."""
    text = text.strip().strip("*_ ")
    return "\n" not in text and 0 < len(text) <= TITLE_MAX_CHARS and not text.endswith((".", "!", "?", ";", ","))


def _leads_on(text: str) -> bool:
    """The piece ends leading into the next one: a colon, or a bare list marker ("How it works: 1.")."""
    return _is_lead_in(text) or bool(_TRAILING_MARKER.search(text.rstrip()))


def _is_formula(text: str) -> bool:
    return len(text.split()) <= 20 and bool(_FORMULA.search(text)) and "==" not in text


def _last_sentence_start(text: str) -> int | None:
    cuts = [m.end() for m in _SPLIT_POINT.finditer(text.rstrip())]
    return cuts[-1] if cuts else None


def _short(text: str, limit: int = 120) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
