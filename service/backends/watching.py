"""Live re-index: watch the notes folder and ingest (incrementally, as `notes-qa ingest`) after each burst of saves.

Changes are debounced (a burst of saves is one ingest) and ingests never overlap (one writer: a busy index is
retried). A server reading the same index serves the new version on its next request (``Retriever`` re-reads
``current``), so a saved note is searchable within a couple of seconds on the bundled-size notes."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from index.build import run_ingest
from index.store import IndexBusy, IndexWriteFailed
from ingest.pipeline import IngestError
from ingest.reading import NOTE_SUFFIXES
from service.backends.components import build_embedder, build_store, ingest_config
from service.backends.settings import Settings

log = logging.getLogger("notes_qa.watch")
DEBOUNCE_MS = 300  # saves closer together than this are one change
BUSY_RETRY_S = 0.5


def note_filter(notes_dir: Path) -> Callable[[object, str], bool]:
    """Changes that can change the index: a note (by suffix) or a folder (a moved or deleted folder takes its
    notes along), never under a hidden folder of the notes folder (``.obsidian/``, ``.git/``, editors' swap files)."""
    root = notes_dir.resolve()

    def relevant(_change: object, path: str) -> bool:
        try:
            rel = Path(path).resolve().relative_to(root)
        except ValueError:
            return False
        if any(part.startswith(".") for part in rel.parts):
            return False
        suffix = rel.suffix.lower()
        return suffix in NOTE_SUFFIXES or suffix == ""

    return relevant


def watch_notes(
    settings: Settings,
    notes_dir: Path,
    stop: threading.Event,
    report: Callable[[str], None] = log.info,
) -> None:
    """Until ``stop`` is set: on every burst of note changes under ``notes_dir``, ingest it into the index."""
    from watchfiles import watch

    store, embedder, config = build_store(settings), build_embedder(settings), ingest_config(settings)
    embedder.warm_up()
    for changes in watch(
        notes_dir, watch_filter=note_filter(notes_dir), debounce=DEBOUNCE_MS, stop_event=stop, raise_interrupt=False
    ):
        started = time.perf_counter()
        while not stop.is_set():
            try:
                result = run_ingest(notes_dir, store, embedder, config)
            except IndexBusy:  # another ingest (or calibrate) is writing: ours follows it
                stop.wait(BUSY_RETRY_S)
                continue
            except (IngestError, IndexWriteFailed) as exc:  # e.g. the last note deleted: the old version stays
                report(f"watch: {len(changes)} change(s) not indexed: {exc}")
                break
            state = f"new version {result.version}" if result.changed else "no indexable change"
            seconds = time.perf_counter() - started
            report(
                f"watch: {len(changes)} change(s) -> {state}, {result.chunks_embedded} chunks embedded, {seconds:.1f} s"
            )
            break


def start_watcher(settings: Settings, notes_dir: Path) -> tuple[threading.Thread, threading.Event]:
    """``watch_notes`` on a daemon thread; set the returned event to stop it."""
    stop = threading.Event()
    thread = threading.Thread(target=watch_notes, args=(settings, notes_dir, stop), name="notes-qa-watch", daemon=True)
    thread.start()
    return thread, stop
