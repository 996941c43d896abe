"""The grounded-answer prompt, and reading citations and refusals back out of the model's reply."""

from __future__ import annotations

import re

from index.search import Hit
from service.generator import Prompt

NO_ANSWER = "no answer found"

SYSTEM = (
    "You answer questions about the user's personal notes. Use ONLY the numbered passages given. "
    "Reply with a short answer (one to three sentences) that states the fact from the passages, "
    "and put the number of the passage you used in square brackets, like [1]. "
    f"If the passages do not state the answer, reply exactly: {NO_ANSWER}"
)

_CITE = re.compile(r"\[(\d{1,2}(?:\s*,\s*\d{1,2})*)\]")
_REFUSAL = re.compile(
    r"(no answer found|(do|does|did) not (contain|mention|provide|state|include|specify)|"
    r"not (mentioned|provided|stated|specified|included|covered)|no (information|mention)|"
    r"(cannot|can't|unable to) (answer|determine|find)|i (don't|do not) know)",
    re.IGNORECASE,
)
_WORD = re.compile(r"[0-9a-z]+")


def build_prompt(question: str, hits: list[Hit]) -> Prompt:
    blocks = []
    for n, hit in enumerate(hits, start=1):
        source = hit.chunk.file
        blocks.append(f"[{n}] (from {source})\n{hit.chunk.passage().strip()}")
    passages = "\n\n".join(blocks)
    user = f"Passages:\n\n{passages}\n\nQuestion: {question.strip()}\nAnswer (cite passages like [1]):"
    return Prompt(system=SYSTEM, user=user)


def cited_numbers(answer: str, n_passages: int) -> list[int]:
    """Passage numbers cited as [n] or [n, m], in order of first appearance, within range."""
    seen: list[int] = []
    for group in _CITE.findall(answer):
        for part in group.split(","):
            n = int(part)
            if 1 <= n <= n_passages and n not in seen:
                seen.append(n)
    return seen


def is_refusal(answer: str, cited: list[int]) -> bool:
    text = answer.strip()
    if not text:
        return True
    if NO_ANSWER in text.lower():
        return True
    return not cited and bool(_REFUSAL.search(text))


def best_supporting(answer: str, hits: list[Hit]) -> int | None:
    """For an answer without [n] markers: the passage sharing the most words with it (1-based), if any."""
    words = set(_WORD.findall(answer.lower()))
    if not words or not hits:
        return None
    overlaps = [len(words & set(_WORD.findall(h.chunk.passage().lower()))) / len(words) for h in hits]
    best = max(range(len(hits)), key=lambda i: overlaps[i])
    return best + 1 if overlaps[best] >= 0.3 else None
