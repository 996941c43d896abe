"""Where a label's evidence sits in its note: the file line span that holds the verbatim evidence text.

Citation validity compares this span with the cited unit's lines (a citation is right when they overlap), so a
citation is judged by the lines it quotes, not by the whole passage around them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from eval.metrics import normalize
from ingest.reading import Skipped, decode


@dataclass(frozen=True)
class Span:
    file: str
    start_line: int  # 1-based, inclusive
    end_line: int

    def overlaps(self, file: str, start_line: int, end_line: int) -> bool:
        return file == self.file and start_line <= self.end_line and self.start_line <= end_line


def locate(lines: Sequence[str], evidence: str) -> tuple[int, int] | None:
    """The 1-based line span of the first place the lines hold ``evidence`` (case, quotes and spacing ignored,
    across line breaks), else None."""
    wanted = normalize(evidence)
    if not wanted:
        return None
    text: list[str] = []
    line_of: list[int] = []  # the line of each character of the normalised text
    for number, line in enumerate(lines, 1):
        for word in normalize(line).split():
            if text:
                text.append(" ")
                line_of.append(number)
            text.append(word)
            line_of.extend([number] * len(word))
    joined = "".join(text)
    at = joined.find(wanted)
    if at < 0:
        return None
    return line_of[at], line_of[at + len(wanted) - 1]


class EvidenceLocator:
    """Finds evidence spans in the notes folder an index was built from (files read once, as ingest decodes them)."""

    def __init__(self, root: str | Path | None) -> None:
        self.root = Path(root) if root else None

    def span(self, file: str | None, evidence: str | None) -> Span | None:
        if not (self.root and file and evidence):
            return None
        found = locate(_lines(self.root / file), evidence)
        return Span(file, *found) if found else None


@lru_cache(maxsize=512)
def _lines(path: Path) -> tuple[str, ...]:
    try:
        text, _ = decode(path.read_bytes())
    except (OSError, Skipped):
        return ()
    return tuple(text.replace("\r\n", "\n").replace("\r", "\n").split("\n"))  # numbered as ingest numbers them
