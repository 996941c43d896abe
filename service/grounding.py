"""Checks that tie a generated answer to the passages it came from: which passage each citation should name,
and how much of the answer no passage (nor the question) accounts for."""

from __future__ import annotations

import re

from index import bm25
from index.search import Hit
from service.prompting import CITE, cited_numbers, word_support

# A cited passage that supports the answer's wording this much less than another passage does is a mis-citation
# (a small model cites [1] by habit): the citation moves to the passage that holds the words.
REATTRIBUTE_MARGIN = 0.25
# An answer whose content terms are this new — in no passage and not in the question — was made up, however it
# cites (dev set: correct answers stay below 0.25; invented explanations reach 0.3), counting only when several
# terms are new: one odd word is a paraphrase.
NOVEL_SHARE_MAX = 0.25
NOVEL_TERMS_MIN = 4
_NUMBER = re.compile(r"^\d[\d.,]*\d$")  # 2+ characters: single digits occur everywhere


def reattribute(text: str, hits: list[Hit]) -> tuple[str, list[int]]:
    """Point each citation at the passage that supports the answer; returns the new text and cited numbers."""
    cited = cited_numbers(text, len(hits))
    if not cited:
        return text, cited
    support = [word_support(text, h.chunk.passage()) for h in hits]
    best = max(range(len(hits)), key=support.__getitem__) + 1
    moved = {n: best for n in cited if support[best - 1] - support[n - 1] >= REATTRIBUTE_MARGIN}
    if not moved:
        return text, cited

    def rewrite(match: re.Match[str]) -> str:
        numbers = [int(p) for p in match.group(1).split(",")]
        if any(not 1 <= n <= len(hits) for n in numbers):
            return match.group(0)  # not a citation (e.g. a vector [0, 1, 0])
        renumbered = list(dict.fromkeys(moved.get(n, n) for n in numbers))
        return "[" + ", ".join(map(str, renumbered)) + "]"

    text = CITE.sub(rewrite, text)
    return text, cited_numbers(text, len(hits))


def novel_terms(question: str, text: str, hits: list[Hit]) -> set[str]:
    """The answer's content terms (stemmed) that appear neither in the passages nor in the question."""
    return _answer_terms(text) - _known_terms(question, hits)


def is_invented(question: str, text: str, hits: list[Hit]) -> bool:
    """A number no passage states (a port, a rank, a size), or many words no passage uses."""
    terms = _answer_terms(text)
    novel = terms - _known_terms(question, hits)
    if any(_NUMBER.match(t) for t in novel):
        return True
    return len(novel) >= NOVEL_TERMS_MIN and len(novel) / max(len(terms), 1) >= NOVEL_SHARE_MAX


def _answer_terms(text: str) -> set[str]:
    return bm25.terms(CITE.sub(" ", text))


def _known_terms(question: str, hits: list[Hit]) -> set[str]:
    return bm25.terms(question + "\n" + "\n".join(h.chunk.passage() for h in hits))
