"""The index built on first use, so that a fresh clone (or an assistant launching ``notes-qa mcp``) needs no
``notes-qa ingest`` first: shared by ``serve``, ``mcp``, ``ask`` and ``search``."""

from __future__ import annotations

import contextlib
import sys

from index.store import IndexBusy
from service.backends.components import build_store
from service.backends.ingesting import ingest_and_report
from service.backends.settings import Settings


def ensure_index(settings: Settings) -> None:
    """Ingest the notes folder when there is no index yet; its progress and report go to stderr (stdout is for
    the command's own output)."""
    if build_store(settings).exists():
        return
    print(f"no index yet: ingesting {settings.notes_dir} first", file=sys.stderr)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            ingest_and_report(settings, settings.notes_dir, quiet=False)
    except IndexBusy:
        # another replica (or the ingest job) is building it: go on now, ready once that version lands
        print("another process is building the index; going on, ready when it is done", file=sys.stderr)
