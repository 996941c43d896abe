"""Grounding: is the model's draft an answer, supported by the evidence it cites? If not, the best evidence unit
is quoted instead (the model failed, not the notes).

The rules are plain definitions, not cut-offs fitted to questions: a draft must say something the question does
not, cite units that exist (or be attributable to one), not stop at a lead-in, state no number the evidence and
question lack, take most of its words from what it cites, and — when the best unit is the structure the question
asks for (a list, a formula, a command) — give that structure.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from index import bm25
from ingest.types import HEADING_SEP
from service.pipeline.evidence import Evidence
from service.pipeline.policy import GroundingPolicy
from service.pipeline.prompting import cited_numbers, is_refusal, strip_citations
from service.pipeline.reader import asks

MAX_ANSWER_WORDS = GroundingPolicy().max_answer_words
INVENTED_NUMBER = "states a number no evidence gives"
_NUMBER = re.compile(r"^\d[\d.,]*\d$")  # 2+ characters: single digits occur everywhere
_NORM = re.compile(r"[^0-9a-z]+")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_ECHO = re.compile(r"^\s*\[\d{1,2}\]\s*\(")  # starts like a line of the prompt's notes: "[1] (heading) ..."
_CITATION_AS_ANSWER = re.compile(r"\b(is|are|was|as|follows)\s*:?\s*\[\d{1,2}\](?=\s*(?:[.:]|$))", re.IGNORECASE)
_DIGITS = re.compile(r"\d[\d.,]*")
_SINGLE_CITE = re.compile(r"\[(\d{1,2})\]")
# "… you use the following formula:" and nothing after; "Two kinds: 1." (a list that never came)
_LEAD_IN_END = re.compile(r"[:：]\s*([-–—]|\d{1,2}[.)]|[*•])?\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
_LIST_MARKER = re.compile(r"^\s*([-*+•]|\d{1,2}[.)])\s+")
_LEADING_CITE = re.compile(r"^\s*(\[\d{1,2}(?:\s*,\s*\d{1,2})*\])\s*(.+)$", re.DOTALL)


@dataclass(frozen=True)
class Draft:
    """The generator's reply, checked against the evidence."""

    text: str  # the reply, citations possibly added or moved
    cited: tuple[int, ...]
    kept: bool
    support: float
    problem: str | None = None  # why it was not kept
    quote: int = 1  # the evidence number to quote instead (the structure the question asks for, when one is shown)


def check_draft(
    question: str, reply: str, evidence: Sequence[Evidence], policy: GroundingPolicy | None = None
) -> Draft:
    policy = policy or GroundingPolicy()
    reply = reply.strip()
    if (m := _LEADING_CITE.match(reply)) and not _ECHO.match(reply):
        reply = f"{m.group(2).strip()} {m.group(1)}"  # "[1] MRKL stands for ..." -> "MRKL stands for ... [1]"
    cited = cited_numbers(reply, len(evidence))
    if is_refusal(reply, cited, policy.refusal):
        return Draft(reply, (), False, 0.0, "refused")
    if _cites_missing_units(reply, len(evidence)):
        return Draft(reply, tuple(cited), False, 0.0, "cites notes that do not exist")
    body = strip_citations(reply)
    words = _terms(body)
    if not words:
        return Draft(reply, tuple(cited), False, 0.0, "no content")
    if _LEAD_IN_END.search(body):
        return Draft(reply, tuple(cited), False, 0.0, "stops at a lead-in before its answer")
    if _is_heading_copy(body, evidence):
        return Draft(reply, tuple(cited), False, 0.0, "copied a heading")
    if _ECHO.match(reply):
        return Draft(reply, tuple(cited), False, 0.0, "echoed the numbered notes")
    if _CITATION_AS_ANSWER.search(reply):
        return Draft(reply, tuple(cited), False, 0.0, "points at a note instead of answering")
    asked = bm25.terms(question)
    said = words | set(_DIGITS.findall(body))  # numbers count as something said ("[0, 0, 1, 0, 0]")
    if len(said - asked - set(_DIGITS.findall(question))) < min(2, len(said)):
        return Draft(reply, tuple(cited), False, 0.0, "only restates the question")
    unit_terms = [_terms(e.unit.display()) for e in evidence]
    support = [len(words & (terms | asked)) / len(words) for terms in unit_terms]
    best = max(range(len(evidence)), key=support.__getitem__) + 1
    if not cited or max(support[n - 1] for n in cited) < support[best - 1]:
        reply = f"{strip_citations(reply)} [{best}]"  # uncited, or cited by habit ([1]) where [best] holds the words
        cited = [best]
    share = max(support[n - 1] for n in cited)
    known = set().union(*unit_terms) | asked
    if any(_NUMBER.match(t) for t in words - known):
        return Draft(reply, tuple(cited), False, share, INVENTED_NUMBER)
    if share <= 0.5:
        return Draft(reply, tuple(cited), False, share, "most of it is not in the cited evidence")
    if missing := _misses_structure(question, body, evidence[: policy.structure_units], cited):
        return Draft(reply, tuple(cited), False, share, missing[0], missing[1])
    if len(body.split()) > policy.max_answer_words or _unfinished(body):
        reply = f"{_limit_words(_finished_sentences(body), policy.max_answer_words)} [{', '.join(map(str, cited))}]"
    return Draft(reply, tuple(cited), True, share)


def quote_answer(
    evidence: Sequence[Evidence], n: int = 1, max_words: int = MAX_ANSWER_WORDS
) -> tuple[str, tuple[int, ...]]:
    """The fallback answer: the reader's best unit — a whole structure (a list with its lead-in, a command with
    the sentence that introduces it) — quoted, cut to the word limit (a list or code block by whole lines), never
    a lead-in alone (no unit is one)."""
    unit = evidence[n - 1].unit
    if unit.kind in ("list", "code"):
        lines = [line.rstrip() for line in unit.text.split("\n") if line.strip() and not _FENCE.match(line)]
        text = _limit_lines(lines, max_words - 1)
    else:
        text = _limit_words(" ".join(unit.text.split()), max_words - 1)
    return f"“{text}” [{n}]", (n,)


def _cites_missing_units(reply: str, n_units: int) -> bool:
    """A bracketed number past the evidence ("[1] [2] … [24]" after three units): the model lists citations
    instead of answering. A vector or list ("[0, 0, 1]") is not a citation."""
    return any(n_units < int(n) <= 99 for n in _SINGLE_CITE.findall(reply))


def _misses_structure(
    question: str, body: str, evidence: Sequence[Evidence], cited: Sequence[int]
) -> tuple[str, int] | None:
    """When one of the best units (the policy's ``structure_units``; a list only when it is the best or the cited one)
    is what the question asks for — a list for "what are the …", a formula for
    "how do I compute …", a command for "how do I …" — a draft that leaves it out is not the answer: that unit
    (its number) is quoted instead."""
    asked = asks(question)
    said = _terms(body)
    for e in evidence:
        unit = e.unit
        if asked["list"] and unit.kind == "list" and (e.n == 1 or e.n in cited):  # a list the draft rests on
            items = [_terms(_LIST_MARKER.sub("", line)) for line in unit.text.split("\n") if _LIST_MARKER.match(line)]
            given = sum(1 for item in items if item and len(item & said) >= max(1, len(item) // 2))
            if len(items) >= 2 and given < min(2, len(items)):
                return "leaves out the list the notes give", e.n
            return None
        if asked["formula"] and unit.kind == "formula" and "=" in unit.text:
            return None if _gives_formula(body, unit.text) else ("leaves out the formula the notes give", e.n)
        if asked["howto"] and unit.kind == "code":
            code = [line.strip() for line in unit.text.split("\n") if line.strip() and not _FENCE.match(line)]
            command = (_terms(code[-1]) if code else set()) - bm25.terms(question)  # the code itself, past the lead-in
            return ("leaves out the command the notes give", e.n) if command and not command & said else None
    return None


def _gives_formula(body: str, formula: str) -> bool:
    """The draft states an equation, or the right-hand side the notes give ("Recall is TP/(TP+FN)")."""
    if "=" in body:
        return True
    rhs = formula.split("=", 1)[1].strip().split()
    expression = rhs[0].rstrip(".,;:") if rhs else ""
    return bool(expression) and expression.replace(" ", "") in body.replace(" ", "")


def _limit_lines(lines: list[str], limit: int) -> str:
    """Whole lines while they fit in ``limit`` words (the first one at least, cut), joined as lines."""
    kept: list[str] = []
    for line in lines:
        if len(" ".join([*kept, line]).split()) > limit:
            break
        kept.append(line)
    if not kept:
        return _limit_words(lines[0], limit) if lines else ""
    return "\n".join(kept) + (" …" if len(kept) < len(lines) else "")


def _terms(text: str) -> set[str]:
    return bm25.terms(strip_citations(text))


def _is_heading_copy(body: str, evidence: Sequence[Evidence]) -> bool:
    """The draft only repeats a heading (a small model's favourite non-answer)."""
    said = _NORM.sub("", body.lower())
    headings = {
        _NORM.sub("", h.lower()) for e in evidence for h in (e.unit.context, *e.unit.heading.split(HEADING_SEP))
    }
    return bool(said) and said in headings


def _unfinished(text: str) -> bool:
    """Decoding hit its token limit mid-sentence (and an earlier sentence is complete)."""
    return not text.rstrip().endswith((".", "!", "?", ")", "]", '"', "”")) and bool(_SENTENCE_END.search(text))


def _finished_sentences(text: str) -> str:
    """The text up to its last complete sentence, when it was cut off mid-sentence."""
    if not _unfinished(text):
        return text
    return " ".join(_SENTENCE_END.split(text)[:-1])


def _limit_words(text: str, limit: int = MAX_ANSWER_WORDS) -> str:
    """At most ``limit`` words: whole sentences while they fit, else the first words and an ellipsis."""
    if len(text.split()) <= limit:
        return text
    kept: list[str] = []
    for sentence in _SENTENCE_END.split(text):
        if len(" ".join([*kept, sentence]).split()) > limit:
            break
        kept.append(sentence)
    if kept:
        return " ".join(kept)
    return " ".join(text.split()[:limit]) + "…"
