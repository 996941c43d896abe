"""Question files (JSON lines): the dev-set schema; unknown fields ignored, bad lines reported and skipped."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from eval.metrics import accepted_phrases, answer_correct, first_relevant_rank
from service.pipeline.scoping import ScopeIn


class Question(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str
    question: str
    answerable: bool
    reference_answer: str = ""
    must_contain_any: list[str] = []
    must_not_contain: list[str] = []  # an either/or question's wrong option: an answer holding it is wrong
    source_file: str | None = None
    evidence: str | None = None
    source_file_2: str | None = None
    evidence_2: str | None = None
    kind: str = "other"
    unanswerable_type: str | None = None
    scope: ScopeIn | None = None  # asked only of these notes, as `/ask` with a `scope`

    @property
    def evidences(self) -> list[str]:
        return [e for e in (self.evidence, self.evidence_2) if e]

    @property
    def multi_hop(self) -> bool:
        """Both evidences are needed (``kind`` multi-hop); otherwise ``evidence_2`` is a second place saying the same."""
        return self.kind == "multi-hop"

    def evidence_rank(self, passages: list[str]) -> int | None:
        """1-based rank by which the evidence was retrieved: every part of a multi-hop answer, else any place."""
        if self.multi_hop:
            return first_relevant_rank(passages, self.evidences)
        ranks = [r for e in self.evidences if (r := first_relevant_rank(passages, [e])) is not None]
        return min(ranks, default=None)

    @property
    def evidence_places(self) -> list[tuple[str | None, str]]:
        """(file, evidence text) of each labelled place; evidence_2 is in source_file_2, else in source_file."""
        places: list[tuple[str | None, str]] = []
        if self.evidence:
            places.append((self.source_file, self.evidence))
        if self.evidence_2:
            places.append((self.source_file_2 or self.source_file, self.evidence_2))
        return places

    @property
    def accepted(self) -> list[str]:
        """The phrases that can prove an answer right (``metrics.accepted_phrases``)."""
        return accepted_phrases(
            self.question, self.must_contain_any, bool(self.must_not_contain), self.reference_answer
        )

    def answer_is_correct(self, answer: str) -> bool:
        return answer_correct(
            answer, self.question, self.must_contain_any, self.must_not_contain, self.reference_answer
        )


@dataclass(frozen=True)
class LineError:
    line: int
    message: str


def load_questions(path: Path) -> tuple[list[Question], list[LineError]]:
    questions: list[Question] = []
    errors: list[LineError] = []
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            questions.append(Question.model_validate(json.loads(raw)))
        except json.JSONDecodeError as exc:
            errors.append(LineError(number, f"not JSON: {exc.msg}"))
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'line'}: {e['msg']}" for e in exc.errors())
            errors.append(LineError(number, problems))
    return questions, errors
