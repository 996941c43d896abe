"""Scoped questions: which passages a question may be answered from (folder, file glob, tag, date range).

Filters combine with AND. Retrieval applies them inside the search (``index.search``), so a scoped question still
gets k passages when the scope has them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from fnmatch import fnmatchcase

import numpy as np

from ingest.note_metadata import normalise_tag
from ingest.types import Chunk


class NothingInScope(LookupError):
    """No indexed passage matches the scope: said as such, not as "no answer found"."""

    def __init__(self, scope: Scope) -> None:
        super().__init__(f"No notes match the scope ({scope.describe()}).")
        self.scope = scope


@dataclass(frozen=True)
class Scope:
    folder: str | None = None  # a folder of the notes folder, e.g. "ml" or "projects/ml/" (and its subfolders)
    file: str | None = None  # a glob over the note's path in the notes folder, e.g. "*interview*" or "ml/*.md"
    tag: str | None = None  # a tag, e.g. "interview" or "#ml" ("ml" also matches nested "ml/vision")
    since: date | None = None  # the note's date (front matter `date`, else modification day), inclusive
    until: date | None = None

    def __post_init__(self) -> None:
        folder = (self.folder or "").strip().strip("/")
        if ".." in folder.split("/"):
            raise ValueError("folder must be inside the notes folder")
        object.__setattr__(self, "folder", folder or None)
        object.__setattr__(self, "file", (self.file or "").strip() or None)
        object.__setattr__(self, "tag", normalise_tag(self.tag or "") or None)
        if self.since and self.until and self.since > self.until:
            raise ValueError("since is after until")

    @property
    def is_everything(self) -> bool:
        return not (self.folder or self.file or self.tag or self.since or self.until)

    def matches(self, chunk: Chunk) -> bool:
        """Folder and file filters accept a passage when any copy of it (``also_in``) is in scope. Both ignore
        case, as a note app's search does: "ML" finds ml/, "*Interview*" finds interview-prep.md."""
        files = [f.lower() for f in (chunk.file, *(loc.file for loc in chunk.also_in))]
        if self.folder and not any(f.startswith(self.folder.lower() + "/") for f in files):
            return False
        if self.file and not any(
            fnmatchcase(f, self.file.lower()) or fnmatchcase(f.rsplit("/", 1)[-1], self.file.lower()) for f in files
        ):
            return False
        if self.tag and not any(t == self.tag or t.startswith(self.tag + "/") for t in chunk.tags):
            return False
        if self.since or self.until:
            if not chunk.date:
                return False
            day = date.fromisoformat(chunk.date)
            if (self.since and day < self.since) or (self.until and day > self.until):
                return False
        return True

    def describe(self) -> str:
        parts = [
            f"folder {self.folder}/" if self.folder else "",
            f"file {self.file}" if self.file else "",
            f"tag #{self.tag}" if self.tag else "",
            f"since {self.since}" if self.since else "",
            f"until {self.until}" if self.until else "",
        ]
        return ", ".join(p for p in parts if p) or "all notes"


def allowed_rows(chunks: list[Chunk], scope: Scope) -> np.ndarray:
    """The index rows (positions in ``chunks``) in scope, ascending; ``NothingInScope`` when there are none."""
    rows = np.fromiter((i for i, c in enumerate(chunks) if scope.matches(c)), dtype=np.int64)
    if not len(rows):
        raise NothingInScope(scope)
    return rows
