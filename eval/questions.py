"""Question files (JSON lines): the dev-set schema; unknown fields ignored, bad lines reported and skipped."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from service.schemas import ScopeIn


class Question(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str
    question: str
    answerable: bool
    reference_answer: str = ""
    must_contain_any: list[str] = []
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
