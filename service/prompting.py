"""The grounded-answer prompt, and reading citations and refusals back out of the model's reply."""

from __future__ import annotations

import re

from index.search import Hit
from service.generator import Prompt

NO_ANSWER = "no answer found"

# The refusal decision is not left to the model: at 0.5B parameters it refuses answerable questions as often
# as it catches unanswerable ones. The threshold and the grounding check in `answering` decide abstention.
SYSTEM = (
    "You answer questions about the user's personal notes, using ONLY the numbered passages given. "
    "Reply with a short answer (one to three sentences) in the passages' own words, "
    "and put the number of the passage you used in square brackets, like [1]."
)

CITE = re.compile(r"\[(\d{1,2}(?:\s*,\s*\d{1,2})*)\]")
_REFUSAL = re.compile(
    r"(no answer found|(do|does|did) not (contain|mention|provide|state|include|specify)|"
    r"not (mentioned|provided|stated|specified|included|covered)|no (information|mention)|"
    r"(cannot|can't|unable to) (answer|determine|find)|i (don't|do not) know)",
    re.IGNORECASE,
)
_WORD = re.compile(r"[0-9a-z]+")
_FUNCTION_WORDS = frozenset(
    "a an and are as at be by can do does for from has have how i in is it its of on or so that the their them "
    "then there these they this to was we what when where which who why will with you your".split()
)


def _content_words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _FUNCTION_WORDS}


def build_prompt(question: str, hits: list[Hit]) -> Prompt:
    """Question, numbered passages, question again: a small model loses a question asked only up front or
    only after a long context (measured on the dev set)."""
    question = question.strip()
    passages = "\n\n".join(f"[{n}] {hit.chunk.passage().strip()}" for n, hit in enumerate(hits, start=1))
    user = f"Question: {question}\n\nPassages:\n\n{passages}\n\nQuestion: {question}\nAnswer (cite passages like [1]):"
    return Prompt(system=SYSTEM, user=user)


def has_content(answer: str) -> bool:
    """False for replies that are only citation markers and punctuation (a small model's failure mode)."""
    return bool(_content_words(CITE.sub(" ", answer)))


def cited_numbers(answer: str, n_passages: int) -> list[int]:
    """Passage numbers cited as [n] or [n, m], in order of first appearance. A bracket holding a number out of
    range is not a citation at all (a vector like [0, 0, 1] or a list index)."""
    seen: list[int] = []
    for group in CITE.findall(answer):
        numbers = [int(part) for part in group.split(",")]
        if all(1 <= n <= n_passages for n in numbers):
            for n in numbers:
                if n not in seen:
                    seen.append(n)
    return seen


def is_refusal(answer: str, cited: list[int]) -> bool:
    text = answer.strip()
    if not text:
        return True
    if NO_ANSWER in text.lower():
        return True
    return not cited and bool(_REFUSAL.search(text))


def word_support(answer: str, passage: str) -> float:
    """Share of the answer's content words (citations aside) that the passage contains."""
    words = _content_words(CITE.sub(" ", answer))
    return len(words & _content_words(passage)) / len(words) if words else 0.0
