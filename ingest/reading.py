"""Find note files under a folder and read them, deciding what is skipped and why."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

NOTE_SUFFIXES = (".md", ".markdown", ".txt")


@dataclass(frozen=True)
class RawNote:
    path: str  # relative to the notes folder, with forward slashes
    text: str
    sha256: str


class Skipped(Exception):
    """This file is not indexed; the message is the reason shown in the report."""


def find_notes(root: Path) -> list[Path]:
    return sorted(
        p
        for p in root.rglob("*")
        if p.is_file()
        and p.suffix.lower() in NOTE_SUFFIXES
        and not any(part.startswith(".") for part in p.relative_to(root).parts)
    )


def read_note(root: Path, path: Path, max_bytes: int) -> RawNote:
    rel = path.relative_to(root).as_posix()
    size = path.stat().st_size
    if size > max_bytes:
        raise Skipped(f"too large ({size:,} bytes > {max_bytes:,})")
    data = path.read_bytes()
    if b"\x00" in data[:8192]:
        raise Skipped("binary (contains NUL bytes)")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise Skipped(f"not UTF-8 (invalid byte at offset {exc.start})") from exc
    if not text.strip():
        raise Skipped("empty")
    return RawNote(path=rel, text=text, sha256=hashlib.sha256(data).hexdigest())
