"""`python -m eval.labels QUESTIONS.jsonl NOTES_DIR`: check a question file against the strict scorer's rules.

A label is weak when a wrong answer could pass it: a phrase too short to mean anything ("a", "0"), a phrase the
question itself contains (an answer repeating the question would score), evidence that is not verbatim in its
note, or accepted phrases none of which the notes state (the unit metrics could never count it). Exit 1 when any
question has a problem, so the committed files stay clean (tests/test_eval_labels.py runs it)."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

from eval.evidence_spans import EvidenceLocator
from eval.metrics import phrase_in
from eval.questions import Question, load_questions

# absent: the topic is not in the notes; adversarial: a near-topic detail they do not give; metadata: about the notes
UNANSWERABLE_TYPES = ("absent", "adversarial", "metadata")


def problems(q: Question, locator: EvidenceLocator) -> list[str]:
    """What is wrong with one label (empty when nothing is)."""
    if not q.answerable:
        out = [] if q.unanswerable_type in UNANSWERABLE_TYPES else [f"unanswerable_type not in {UNANSWERABLE_TYPES}"]
        return out + (["an unanswerable question carries evidence"] if q.evidences else [])
    out = []
    for phrase in [*q.must_contain_any, *q.must_not_contain]:
        alnum, visible = sum(c.isalnum() for c in phrase), len("".join(phrase.split()))
        if alnum < 2 and visible < 3:
            out.append(f"phrase {phrase!r} is too short to prove anything")
    accepted = q.accepted
    if not q.must_contain_any:
        out.append("no must_contain_any phrase")
    elif not accepted:
        out.append("every accepted phrase is in the question (an echo would pass): rewrite the phrases")
    out += [f"phrase {p!r} is in the question" for p in q.must_contain_any if p not in accepted]
    if not q.evidences:
        out.append("no evidence text")
    texts = []
    for file, evidence in q.evidence_places:
        span = locator.span(file, evidence)
        if span is None:
            out.append(f"evidence {evidence[:60]!r} is not verbatim in {file}")
        texts.append(evidence)
    if accepted and texts and not any(phrase_in(t, p, q.reference_answer) for t in texts for p in accepted):
        out.append("no accepted phrase occurs in the evidence text (add the notes' own words)")
    return out


def check_file(path: Path, notes: Path) -> list[tuple[str, str]]:
    questions, errors = load_questions(path)
    found = [(f"line {e.line}", e.message) for e in errors]
    found += [(i, "duplicate id") for i, n in Counter(q.id for q in questions).items() if n > 1]
    locator = EvidenceLocator(notes)
    found += [(q.id, p) for q in questions for p in problems(q, locator)]
    return found


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m eval.labels QUESTIONS.jsonl NOTES_DIR", file=sys.stderr)
        return 2
    path, notes = Path(args[0]), Path(args[1])
    if not path.is_file() or not notes.is_dir():
        print(f"error: {path if not path.is_file() else notes} not found", file=sys.stderr)
        return 2
    found = check_file(path, notes)
    for where, problem in found:
        print(f"{path}:{where}: {problem}")
    print(f"{len({w for w, _ in found})} questions with problems", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
