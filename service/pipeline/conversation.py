"""Follow-up questions made self-contained before retrieval ("and what are its disadvantages?" after "What is ReLU?").

Rules, not the generator: rewriting with the 0.5B model costs a second prefill and invents topics; these rules
are instant, predictable and cover the common shapes of a follow-up:

- a referring pronoun: "What are its disadvantages?" -> "What are ReLU's disadvantages?"
- an elliptical new subject: "what about sigmoid?" -> "What is sigmoid?"; "and for precision?" after
  "What is the formula for recall?" -> "What is the formula for precision?"
- an elliptical aspect: "what about the disadvantages?" -> "what about the disadvantages of ReLU?"

A question with none of these markers is already self-contained and is left alone. The previous user questions are
resolved in order first, so a chain of follow-ups keeps its topic.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

Role = Literal["user", "assistant"]


@dataclass(frozen=True)
class Turn:
    role: Role
    content: str


_PREFIX = re.compile(
    r"^(?:(?:and|so|ok|okay|also|then|now)[,\s]+)?"
    r"(?:(?:what|who|which|how|why|when|where)(?:'s|\s+(?:is|are|was|were|does|do|did|can|could|should|would|will|has|have))?"
    r"|(?:is|are|does|do|did|can|could|should|has|have)"
    r"|tell me (?:about|more about)|explain|describe|define|give me|list)\s+",
    re.IGNORECASE,
)
# Where a subject ends: the verb or clause after it ("How does ReLU work", "How is nDCG computed when ...").
_SUBJECT_END = re.compile(
    r"\s+(?:work|works|mean|means|do|does|stand for|stands for|help|helps|matter|differ|differs|compare|happen|"
    r"used|computed|calculated|defined|measured|trained|chosen|implemented|built|made|called|written|"
    r"when|if|in order|so that|compared|versus|vs\.?)\b.*$",
    re.IGNORECASE,
)
_LEADING_ARTICLE = re.compile(r"^(?:the|a|an)\s+", re.IGNORECASE)
_PREPOSITION = re.compile(
    r"\b(for|of|in|on|about|between|with|to)\s+(?!.*\b(?:for|of|in|on|about|between|with|to)\s)(.+)$", re.IGNORECASE
)
_ELLIPSIS = re.compile(
    r"^(?:and\s+)?(?:what|how)\s+about\s+(?P<a>.+)$|^and\s+(?P<b>.+)$|^(?:what|how)\s+of\s+(?P<c>.+)$"
    r"|^(?:same|the same)\s+for\s+(?P<d>.+)$",
    re.IGNORECASE,
)
_POSSESSIVE = re.compile(r"\b(its|their|his|her)\b", re.IGNORECASE)
_PERSONAL = re.compile(r"\b(it|they|them|he|she|him)\b", re.IGNORECASE)
# "this method", "these", "why is that": "that" only where it cannot be a relative pronoun ("the model that wins").
_DEMONSTRATIVE = re.compile(
    r"(?:\b(?:this|these|those)|(?:^|(?<=\bis )|(?<=\bwas )|(?<=about )|(?<=\bof )|(?<=\bfor )|(?<=does )|(?<=\bdo )"
    r"|(?<=with )|(?<=\bon )|(?<=\bin )|(?<=mean )|(?<=explain ))that)"
    r"(?:\s+(?!is\b|are\b|was\b|were\b|does\b|do\b|mean\b)(?P<noun>[a-z][\w-]*))?"
    r"(?=\s*(?:[?.!,]|$|\s+(?:is|are|was|were|does|do|mean|work|help)\b))",
    re.IGNORECASE,
)
_CONJUNCTION = re.compile(r"^(?:and|so|also|but|ok|okay)[,\s]+", re.IGNORECASE)
_STARTS_LIKE_A_QUESTION = re.compile(
    r"^(?:what|who|which|how|why|when|where|is|are|does|do|did|can|could|should)\b", re.IGNORECASE
)


def contextualize(question: str, history: Sequence[Turn]) -> str:
    """``question`` rewritten so that it can be searched without the conversation (unchanged if it already can)."""
    earlier = [turn.content.strip() for turn in history if turn.role == "user" and turn.content.strip()]
    if not earlier:
        return question
    resolved = earlier[0]
    for previous in earlier[1:]:
        resolved = rewrite(previous, resolved)
    return rewrite(question, resolved)


def rewrite(question: str, previous: str) -> str:
    """One follow-up against the (already self-contained) question before it."""
    text = question.strip()
    body = text.rstrip(" ?.!")
    spoken = _question_form(_CONJUNCTION.sub("", body))
    subject = subject_of(previous)
    if not subject:
        return text
    if _POSSESSIVE.search(body):
        return _POSSESSIVE.sub(f"{subject}'s", spoken, count=1) + "?"
    if _PERSONAL.search(body):
        return _PERSONAL.sub(subject, spoken, count=1) + "?"
    if demonstrative := _DEMONSTRATIVE.search(spoken):
        noun = demonstrative.group("noun")
        replacement = f"the {noun} ({subject})" if noun else subject
        return spoken[: demonstrative.start()] + replacement + spoken[demonstrative.end() :] + "?"
    if ellipsis := _ELLIPSIS.match(body):
        new = next(group for group in ellipsis.groups() if group).strip()
        return _swap_or_extend(previous, subject, new)
    if len(body.split()) <= 3 and not _STARTS_LIKE_A_QUESTION.match(body):
        # a bare fragment ("disadvantages?"): an aspect of the previous subject
        return f"What about the {_LEADING_ARTICLE.sub('', body)} of {subject}?"
    return text


def _question_form(body: str) -> str:
    """A fragment left after dropping "and" ("its disadvantages") is asked as "What about its disadvantages"."""
    if not body:
        return body
    if _STARTS_LIKE_A_QUESTION.match(body) or _PREFIX.match(body + " "):
        return body[0].upper() + body[1:]
    return f"What about {body}"


def subject_of(question: str) -> str:
    """What a question is about: "What is the formula for recall?" -> "the formula for recall"."""
    body = question.strip().rstrip(" ?.!")
    rest = _PREFIX.sub("", body, count=1)
    rest = _SUBJECT_END.sub("", rest)
    return rest.strip(" ,;:") or body


def _swap_or_extend(previous: str, subject: str, new: str) -> str:
    """ "what about X?" : X replaces the previous focus if it is a new thing; if it is an aspect ("the
    disadvantages") it attaches to the previous subject."""
    if new.lower().startswith("the "):
        return f"What about {new} of {_LEADING_ARTICLE.sub('', subject)}?"
    base = previous.strip().rstrip(" ?.!")
    last = _PREPOSITION.search(subject)
    if re.match(r"(for|of|in|on|about|with|to)\s", new, re.IGNORECASE):
        # "and for precision?": replace the previous subject's last prepositional phrase
        return base.replace(subject, subject[: last.start()] + new, 1) + "?" if last else f"{base} {new}?"
    if last:
        return base.replace(subject, subject[: last.start(2)] + new, 1) + "?"
    return base.replace(subject, new, 1) + "?"
