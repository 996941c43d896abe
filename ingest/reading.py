"""Find note files under a folder and read them, deciding what is skipped and why.

Only files inside the notes folder are read: a symbolic link whose target lies outside it is reported and
skipped, and linked folders are not followed (no escapes, no loops). Text is UTF-8 when it decodes as such;
otherwise the encoding is detected (charset-normalizer) and reported. A NUL byte anywhere means binary.
"""

from __future__ import annotations

import codecs
import hashlib
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ingest.pdf_notes import PDF_SUFFIX, PdfUnreadable, pdf_to_text

NOTE_SUFFIXES = (".md", ".markdown", ".txt", ".org", ".html", ".htm", ".pdf")
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


@dataclass(frozen=True)
class RawNote:
    path: str  # relative to the notes folder, with forward slashes
    text: str
    sha256: str
    encoding: str = "utf-8"  # how the bytes were decoded
    modified: str = ""  # the file's modification day, YYYY-MM-DD (UTC)


class Skipped(Exception):
    """This file is not indexed; the message is the reason shown in the report."""


def find_notes(root: Path) -> list[Path]:
    """Note files under ``root`` (hidden files and folders left out), symbolic links included: ``read_note``
    decides about those. Linked folders are not entered."""
    found = []
    for folder, dirs, files in os.walk(root, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found += [Path(folder) / d for d in dirs if (Path(folder) / d).is_symlink()]  # reported, not entered
        for name in files:
            if not name.startswith(".") and Path(name).suffix.lower() in NOTE_SUFFIXES:
                found.append(Path(folder) / name)
    return sorted(found)


def read_note(root: Path, path: Path, max_bytes: int) -> RawNote:
    rel = path.relative_to(root).as_posix()
    if path.is_symlink():
        try:
            target = path.resolve(strict=True)
        except (OSError, RuntimeError) as exc:  # dangling, or a loop
            raise Skipped("a broken link (its target does not exist, or links loop)") from exc
        if target.is_dir():
            raise Skipped("a linked folder: not followed")
        if not target.is_relative_to(root.resolve()):
            raise Skipped("a link to a file outside the notes folder: not read")
    try:
        stat = path.stat()
        size = stat.st_size
        if size > max_bytes:
            raise Skipped(f"too large ({size:,} bytes > {max_bytes:,})")
        data = path.read_bytes()
    except OSError as exc:
        raise Skipped(f"unreadable ({exc.strerror or type(exc).__name__})") from exc
    if path.suffix.lower() == PDF_SUFFIX:
        try:
            text, encoding = pdf_to_text(data), "pdf"
        except PdfUnreadable as exc:
            raise Skipped(str(exc)) from exc
    else:
        text, encoding = decode(data)
    if not text.strip():
        raise Skipped("empty")
    modified = datetime.fromtimestamp(stat.st_mtime, UTC).date().isoformat()
    return RawNote(rel, text, hashlib.sha256(data).hexdigest(), encoding, modified)


def decode(data: bytes) -> tuple[str, str]:
    """The text and the encoding it was read with; ``Skipped`` for binary data."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding), encoding
            except UnicodeDecodeError as exc:
                raise Skipped(f"not valid {encoding} despite its byte-order mark (offset {exc.start})") from exc
    nul = data.find(b"\x00")
    if nul >= 0:
        raise Skipped(f"binary (a NUL byte at offset {nul:,})")
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    results = list(from_bytes(data))
    if not results:
        raise Skipped("not text in any known character encoding")
    # Short texts fit several code pages equally well; among the equally good, Windows-1252 (what most legacy
    # Western notes are in) wins; with no language evidence at all (a few words), too, when it decodes.
    top = results[0]
    tied = [r for r in results if r.chaos == top.chaos and r.coherence == top.coherence]
    best = next((r for r in tied if r.encoding == "cp1252"), None)
    if best is None and top.coherence == 0:
        try:
            return data.decode("cp1252"), "cp1252"
        except UnicodeDecodeError:
            pass
    best = best or top
    return str(best), best.encoding
