"""Evidence selection: retrieved passages -> answer units (with exact file lines) -> the best few, numbered.

A unit is what an answer can rest on and a citation can quote: a prose sentence or two, a list (its items
together while short), a table row, a formula line, a code block. Headings are not units (a small model
copies them as "answers"); they become the unit's ``context``, which the generator sees beside the text.
Flashcards keep question and answer together because the question is the passage's heading, hence the
context of every unit of its answer.

Units are scored against the question by embedder cosine, plus the share of the question's content terms
they contain, plus a prior from their passage's retrieval rank; the best few within a character budget are
handed to the generator. A unit too short to stand alone (a list lead ending in ":", a fragment) brings its
next neighbour along.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from index import bm25
from index.search import Hit
from ingest.embedder import Embedder
from ingest.types import HEADING_SEP

# Scoring weights, chosen by `notes-qa tune-evidence eval/questions/tune.jsonl` (the middle of the best plateau:
# the top unit holds the expected evidence for 0.709 of its 127 answerable questions).
LEXICAL_WEIGHT = 0.75
RANK_PRIOR_WEIGHT = 0.05
# The first unit right under a heading usually states what the heading (a flashcard's question) asks.
LEAD_WEIGHT = 0.1
# Selection: at most this many units and characters of unit text go into the prompt. Prefill time grows with
# the prompt: `notes-qa tune-evidence` on tune.jsonl finds the expected evidence among the selected units for
# 0.850 of its answerable questions at 3 units / 600 characters and 0.858 at 4 / 900, which carries 43% more.
MAX_UNITS = 3
CHAR_BUDGET = 600
# Splitting: prose longer than this is cut into sentences, re-packed up to this size; lists group up to it.
UNIT_MAX_CHARS = 280
SHORT_UNIT_CHARS = 40

_ATX = re.compile(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$")
_BOLD_LINE = re.compile(r"^\s*\*\*([^*].*?)\*\*[\s:]*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
_TABLE_ROW = re.compile(r"^\s*\|.*\|\s*$")
_TABLE_RULE = re.compile(r"^\s*\|?[\s:|-]+\|?\s*$")
_LIST_ITEM = re.compile(r"^\s*([-*+•]|\d+[.)])\s+\S")
# Sentence ends, and inline list markers (" - item", " 2. item") in a flashcard answer written on one line.
_SPLIT_POINT = re.compile(r"(?<=[.!?:;])\s+(?=[\"'(\[A-Z0-9*-])|\s+(?=-\s+\w)|\s+(?=\d{1,2}\.\s+[A-Z])")
_NORM = re.compile(r"[^0-9a-z]+")


@dataclass(frozen=True)
class Unit:
    """One answer unit. ``text`` is exactly the note's text on lines ``start_line..end_line`` (a whole-line
    unit equals those lines; a sentence unit is a part of its one line)."""

    text: str
    context: str  # the heading (or list lead) it sits under; shown to the generator, not quoted
    file: str
    heading: str
    start_line: int
    end_line: int
    hit: Hit  # the retrieved passage it comes from
    position: int  # order within its passage
    lead: bool = False  # the first unit right after a heading line of its passage (a flashcard's answer start)

    def display(self) -> str:
        """What the generator reads: context, then the unit text (context left out when the text holds it)."""
        text = " ".join(self.text.split())
        if self.context and _norm(self.context) not in _norm(text):
            return f"({_short(self.context, 100)}) {text}"
        return text


@dataclass(frozen=True)
class Evidence:
    n: int  # 1-based number the prompt and the answer's [n] use
    unit: Unit
    score: float  # the combined selection score
    cosine: float  # embedder similarity to the question alone


def split_units(hit: Hit) -> list[Unit]:
    """Cut one retrieved passage into answer units, each with its exact file line span."""
    chunk = hit.chunk
    lines = chunk.text.split("\n")
    numbers = list(chunk.lines) if len(chunk.lines) == len(lines) else _guess_numbers(chunk.start_line, lines)
    heading_parts = [p for p in chunk.heading.split(HEADING_SEP) if p]
    heading_norms = {_norm(p) for p in heading_parts}
    context = heading_parts[-1] if heading_parts else ""
    units: list[Unit] = []
    pending: list[tuple[int, str]] = []  # consecutive lines of one list, table or code block
    pending_kind = ""
    in_code = False
    after_heading = False

    def emit(text: str, first: int, last: int, ctx: str) -> None:
        nonlocal after_heading
        if text.strip() and first > 0:
            units.append(Unit(text, ctx, chunk.file, chunk.heading, first, last, hit, len(units), after_heading))
            after_heading = False

    def flush() -> None:
        nonlocal pending, pending_kind
        for group in _group_lines(pending, pending_kind):
            emit("\n".join(t for _, t in group), group[0][0], group[-1][0], context)
        pending, pending_kind = [], ""

    for number, line in zip(numbers, lines, strict=True):
        stripped = line.strip()
        if _FENCE.match(line):
            if in_code:
                flush()
            else:
                flush()
                pending_kind = "code"
            in_code = not in_code
            continue
        if in_code:
            if number:
                pending.append((number, line))
            continue
        if not stripped or not number:
            flush()
            continue
        heading = _heading_text(line, heading_norms)
        if heading is not None:
            flush()
            context = heading
            after_heading = True
            continue
        kind = "table" if _TABLE_ROW.match(line) else "list" if _LIST_ITEM.match(line) else ""
        if kind == "table" and _TABLE_RULE.match(line):
            continue
        if kind != pending_kind:
            flush()
            if kind == "list" and units and units[-1].text.rstrip().endswith(":") and units[-1].end_line >= number - 2:
                context = _short(units[-1].text)
        if kind:
            pending_kind = kind
            pending.append((number, line))
            continue
        for start, end in _sentence_spans(line):
            emit(line[start:end], number, number, context)
    flush()
    return units


def select_evidence(
    question: str,
    hits: Sequence[Hit],
    embedder: Embedder,
    query_vector: np.ndarray | None = None,
    max_units: int = MAX_UNITS,
    char_budget: int = CHAR_BUDGET,
) -> list[Evidence]:
    """The best units of the retrieved passages for this question, numbered 1..n in score order."""
    units = [u for hit in hits for u in split_units(hit)]
    units = _dedupe(units)
    if not units:
        return []
    texts = [u.display() for u in units]
    if query_vector is None:
        vectors = embedder.embed([question, *texts])
        query_vector, vectors = vectors[0], vectors[1:]
    else:
        vectors = embedder.embed(texts)
    cosines = vectors @ query_vector.astype(np.float32)
    q_terms = question_terms(question)
    scored = []
    for unit, cos in zip(units, cosines, strict=True):
        overlap = len(q_terms & bm25.terms(unit.display())) / len(q_terms) if q_terms else 0.0
        lead = LEAD_WEIGHT if unit.lead else 0.0
        score = float(cos) + LEXICAL_WEIGHT * overlap + RANK_PRIOR_WEIGHT / unit.hit.rank + lead
        scored.append((score, float(cos), unit))
    scored.sort(key=lambda s: -s[0])
    by_passage: dict[int, list[Unit]] = {}
    for u in units:
        by_passage.setdefault(id(u.hit), []).append(u)
    chosen: list[tuple[float, float, Unit]] = []
    used = 0
    taken: set[tuple[str, int, int, str]] = set()
    for score, cos, unit in scored:
        if len(chosen) >= max_units:
            break
        unit = _with_neighbour(unit, by_passage[id(unit.hit)])
        key = (unit.file, unit.start_line, unit.end_line, unit.text)
        if key in taken or any(_overlaps(unit, c[2]) for c in chosen):
            continue
        if chosen and used + len(unit.text) > char_budget:
            continue
        chosen.append((score, cos, unit))
        taken.add(key)
        used += len(unit.text)
    return [Evidence(n, unit, round(score, 4), round(cos, 4)) for n, (score, cos, unit) in enumerate(chosen, 1)]


def question_terms(question: str) -> set[str]:
    """The question's stemmed content terms, without function words (question words, auxiliaries, pronouns; the
    stemmer's stop list is short) and words about the notes themselves."""
    return bm25.terms(question) - _META_STEMS


_META_STEMS = frozenset(
    bm25.terms(
        "my note notes card cards flashcard flashcards deck blog post article page per according "
        "what which who whom whose why how when where do does did doing is are was were be been can could "
        "should would will shall may might must i me we you your it its from into onto about"
    )
)


def _with_neighbour(unit: Unit, siblings: list[Unit]) -> Unit:
    """A unit too short to stand alone (a lead ending in ':', a fragment) takes the next unit of its passage."""
    if len(unit.text.strip()) >= SHORT_UNIT_CHARS and not unit.text.rstrip().endswith(":"):
        return unit
    following = [s for s in siblings if s.position == unit.position + 1]
    if not following or following[0].end_line > unit.end_line + 2:
        return unit
    nxt = following[0]
    sep = " " if nxt.start_line == unit.end_line else "\n"
    return replace(unit, text=f"{unit.text}{sep}{nxt.text}", end_line=nxt.end_line)


def _overlaps(a: Unit, b: Unit) -> bool:
    return (
        a.file == b.file
        and a.start_line <= b.end_line
        and b.start_line <= a.end_line
        and (a.text in b.text or b.text in a.text)
    )


def _dedupe(units: list[Unit]) -> list[Unit]:
    seen: set[str] = set()
    out = []
    for u in units:
        key = _norm(u.text)
        if key and key not in seen:
            seen.add(key)
            out.append(u)
    return out


def _heading_text(line: str, heading_norms: set[str]) -> str | None:
    """The heading a line states (markdown, a bold line, or a line repeating the passage's heading), else None."""
    if m := _ATX.match(line):
        return m.group(1).strip()
    if m := _BOLD_LINE.match(line):
        return m.group(1).strip()
    norm = _norm(line)
    if norm and norm in heading_norms:
        return " ".join(line.split())
    return None


def _group_lines(lines: list[tuple[int, str]], kind: str) -> list[list[tuple[int, str]]]:
    """A table: one row a unit. A list or code block: consecutive lines packed up to UNIT_MAX_CHARS."""
    if kind == "table":
        return [[row] for row in lines]
    groups: list[list[tuple[int, str]]] = []
    size = 0
    for number, text in lines:
        if groups and size + len(text) <= UNIT_MAX_CHARS and (not groups[-1] or groups[-1][-1][0] == number - 1):
            groups[-1].append((number, text))
            size += len(text)
        else:
            groups.append([(number, text)])
            size = len(text)
    return groups


def _sentence_spans(line: str) -> list[tuple[int, int]]:
    """Character spans of a prose line cut at sentence ends and inline list markers, re-packed so that each
    span is at most about UNIT_MAX_CHARS (a single longer sentence stays whole)."""
    body_start = len(line) - len(line.lstrip())
    body_end = len(line.rstrip())
    if body_end - body_start <= UNIT_MAX_CHARS:
        return [(body_start, body_end)]
    cuts = [body_start] + [m.end() for m in _SPLIT_POINT.finditer(line, body_start, body_end)] + [body_end]
    pieces = [(a, b) for a, b in itertools.pairwise(cuts) if line[a:b].strip()]
    spans: list[tuple[int, int]] = []
    for a, b in pieces:
        if spans and (b - spans[-1][0] <= UNIT_MAX_CHARS or spans[-1][1] - spans[-1][0] < SHORT_UNIT_CHARS):
            spans[-1] = (spans[-1][0], b)
        else:
            spans.append((a, b))
    return [(a, len(line[:b].rstrip())) for a, b in spans]


def _guess_numbers(start: int, lines: list[str]) -> list[int]:
    """Pre-v4 indexes stored no line map: assume the passage's lines are consecutive file lines."""
    return [start + i for i in range(len(lines))]


def _short(text: str, limit: int = 120) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _norm(text: str) -> str:
    return _NORM.sub("", text.lower())
