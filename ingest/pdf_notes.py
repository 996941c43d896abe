"""PDF notes read as text, page by page (pypdf): each page becomes a ``## Page N`` section, so a passage's heading
path says which page it is on and a citation links to ``file.pdf#page=N``. A PDF without a text layer (a scan) has
no text to index and is reported as skipped."""

from __future__ import annotations

import io
import re

PDF_SUFFIX = ".pdf"
PAGE_HEADING = re.compile(r"(?:^|› )Page (\d+)$")


class PdfUnreadable(ValueError):
    """Not a readable PDF (damaged, encrypted) or one with no text."""


def pdf_to_text(data: bytes) -> str:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise PdfUnreadable("an encrypted PDF")
        pages = [page.extract_text() or "" for page in reader.pages]
    except PdfReadError as exc:
        raise PdfUnreadable(f"not a readable PDF ({exc})") from exc
    sections = []
    for number, text in enumerate(pages, 1):
        body = "\n".join(" ".join(line.split()) for line in text.splitlines() if line.strip())
        if body:
            sections.append(f"## Page {number}\n\n{body}")
    if not sections:
        raise PdfUnreadable("a PDF without a text layer (a scan?)")
    return "\n\n".join(sections) + "\n"


def page_of(heading: str) -> int | None:
    """The page a PDF passage is on, from its heading path (``… › Page 3``)."""
    found = PAGE_HEADING.search(heading)
    return int(found.group(1)) if found else None
