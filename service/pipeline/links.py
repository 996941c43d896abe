"""Links that open a cited note: a ``file://`` URI with the line, and an ``obsidian://`` one for an Obsidian vault."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath
from urllib.parse import quote, urlencode

from index.manifest import Manifest
from ingest.html_notes import HTML_SUFFIXES
from ingest.pdf_notes import PDF_SUFFIX, page_of


@dataclass(frozen=True)
class NoteLinks:
    root: str | None  # the notes folder the index was built from (absolute); None for an index older than links
    vault: str | None = None  # the Obsidian vault's name when the folder is one

    @classmethod
    def of(cls, manifest: Manifest) -> NoteLinks:
        return cls(manifest.notes_root, manifest.obsidian_vault)

    def file_uri(self, file: str, line: int, heading: str = "") -> str | None:
        """``file:///abs/path/note.md#L12`` (the line as editors and browsers' viewers read it); a PDF passage
        links to its page (``#page=3``, which PDF viewers open at); an HTML note's lines are those of its extracted
        text, so it is linked without one."""
        if not self.root:
            return None
        uri = PurePosixPath(self.root, file).as_uri()
        if file.lower().endswith(PDF_SUFFIX):
            page = page_of(heading)
            return f"{uri}#page={page}" if page else uri
        return uri if file.lower().endswith(HTML_SUFFIXES) else f"{uri}#L{line}"

    def obsidian_uri(self, file: str) -> str | None:
        """``obsidian://open?vault=NAME&file=PATH`` (Obsidian opens the note; it takes no line)."""
        if not self.vault:
            return None
        target = file[:-3] if file.endswith(".md") else file
        return "obsidian://open?" + urlencode({"vault": self.vault, "file": target}, quote_via=quote)
