"""Question-shaped training data from the user's own notes, for `notes-qa adapt` (InPars / Promptagator).

For a sampled answer unit the generator writes the question it answers; the question is **kept** only when retrieval
(the served version, the packaged embedder) finds the unit's passage in its top ``FOUND_IN`` — the consistency filter
that drops questions the unit does not really answer. For every ``TRAP_EVERY``-th unit it also writes a **trap**: a
question on the same subject about a detail the unit does not give. A trap is kept only when the whole vault does not
give that detail either (no passage holds all the trap's terms that the unit lacks); traps never train, they check
that the adapted embedder does not pull unanswerable questions closer to the notes.

The pairs file is resumable: one line per unit, written as soon as it is done and keyed by the unit's text, so a
run that is killed, or a later run after some notes changed, asks the generator only about units not done yet."""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from index.bm25 import QUESTION_WORDS, terms
from index.store import Snapshot
from ingest.types import AnswerUnit, Chunk
from service.pipeline.generation import Generator, Prompt
from service.pipeline.retriever import Retriever

QUESTION_SYSTEM = (
    "You read one passage of a person's notes and write the one question it answers, as that person would ask it. "
    "Reply with the question only."
)
TRAP_SYSTEM = (
    "You read one passage of a person's notes. Write one question on the same subject that asks for a specific "
    "detail the passage does not give (a number, a name, a step or a reason it never states). "
    "Reply with the question only."
)
MIN_WORDS, MAX_WORDS, MIN_UNIT_WORDS = 4, 30, 6
FOUND_IN = 5  # the consistency filter: the unit's passage among retrieval's top 5
TRAP_EVERY = 4  # a trap for one unit in four (each costs a generation)
UNIT_CHARS = 700  # of a unit shown to the generator: prefill is the cost


@dataclass(frozen=True)
class PairRecord:
    """What the generator wrote for one unit, and whether each question passed its filter."""

    key: str  # the unit's identity across versions: its passage heading and text
    file: str
    start_line: int  # the passage's first line (passages are matched across versions by file and line)
    question: str | None
    kept: bool
    passage: str
    unit_text: str
    trap: str | None = None
    trap_kept: bool = False


def unit_key(chunk: Chunk, unit: AnswerUnit) -> str:
    return hashlib.sha256(f"{chunk.file}\n{chunk.heading}\n{unit.text}".encode()).hexdigest()[:20]


def question_from(reply: str) -> str | None:
    """The generated question, or None when the reply is not one short question."""
    for line in reply.strip().splitlines():
        line = line.strip().strip('"*').removeprefix("Question:").strip().strip('"*')
        if not line:
            continue
        if "?" not in line:
            return None
        line = line[: line.index("?") + 1]
        return line if MIN_WORDS <= len(line.split()) <= MAX_WORDS else None
    return None


def sample_units(snapshot: Snapshot, seed: int = 0) -> Iterator[tuple[int, int]]:
    """(passage row, unit index) of units of at least ``MIN_UNIT_WORDS`` words, one per passage, passages in a
    seeded random order (a batch then never holds two positives of one passage)."""
    rows = list(range(len(snapshot.chunks)))
    random.Random(seed).shuffle(rows)
    for row in rows:
        units, _ = snapshot.units_of(row)
        usable = [i for i, u in enumerate(units) if len(u.text.split()) >= MIN_UNIT_WORDS]
        if usable:
            yield row, random.Random(seed + row).choice(usable)


class PairLog:
    """The resumable pairs file: appended one unit at a time, read back keyed by unit."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def records(self) -> dict[str, PairRecord]:
        if not self.path.exists():
            return {}
        out = {}
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                record = PairRecord(**json.loads(line))
            except (ValueError, TypeError):
                continue  # a line cut short by a kill: that unit is asked again
            out[record.key] = record
        return out

    def append(self, record: PairRecord) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(asdict(record), ensure_ascii=False) + "\n")


class PairBuilder:
    """Writes and filters the question (and, for some units, the trap) of one unit at a time."""

    def __init__(self, generator: Generator, retriever: Retriever, snapshot: Snapshot) -> None:
        self.generator = generator
        self.retriever = retriever
        self.snapshot = snapshot
        self._vault_terms: list[set[str]] | None = None

    def build(self, row: int, index: int, with_trap: bool) -> PairRecord:
        chunk = self.snapshot.chunks[row]
        unit = self.snapshot.units_of(row)[0][index]
        question = question_from(self._ask(QUESTION_SYSTEM, chunk, unit))
        kept = bool(question) and self.found(question or "", row)
        trap = question_from(self._ask(TRAP_SYSTEM, chunk, unit)) if with_trap else None
        trap_kept = bool(trap) and self.detail_absent(trap or "", chunk, unit)
        return PairRecord(unit_key(chunk, unit), chunk.file, chunk.start_line, question, kept, chunk.passage(),
                          unit.display(), trap, trap_kept)  # fmt: skip

    def found(self, question: str, row: int) -> bool:
        """The consistency filter: retrieval finds the unit's passage for the question."""
        vector = self.retriever.embed_query(question, self.snapshot)
        hits = self.retriever.search_vector(question, vector, FOUND_IN, None, self.snapshot)
        return row in {h.row for h in hits}

    def detail_absent(self, trap: str, chunk: Chunk, unit: AnswerUnit) -> bool:
        """The trap asks for something the unit lacks (terms it does not use) and no passage of the whole vault
        holds all of those terms: the notes do not give its answer anywhere."""
        detail = terms(trap) - terms(f"{chunk.heading}\n{unit.text}") - QUESTION_WORDS
        if not detail:
            return False
        if self._vault_terms is None:
            self._vault_terms = [terms(f"{c.heading}\n{c.text}") for c in self.snapshot.chunks]
        return not any(detail <= passage for passage in self._vault_terms)

    def _ask(self, system: str, chunk: Chunk, unit: AnswerUnit) -> str:
        """The reply up to its first question mark (decoding stops there: a question is all that is used)."""
        passage = unit.display()[:UNIT_CHARS]
        prompt = Prompt(system, f"Note: {chunk.heading or chunk.file}\nPassage:\n{passage}\n\nQuestion:")
        replies = self.generator.generate(prompt)
        text = ""
        try:
            for piece in replies:
                text += piece
                if "?" in text or text.count("\n") > 2:
                    break
        finally:
            close = getattr(replies, "close", None)
            if close is not None:
                close()
        return text
