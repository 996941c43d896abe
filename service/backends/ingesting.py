"""Run ingest with settings and print the per-file report (shared by `ingest` and `serve`)."""

from __future__ import annotations

import sys
from pathlib import Path

from index.build import run_ingest
from ingest.pipeline import IngestReport
from service.backends.components import build_embedder, build_store, ingest_config
from service.backends.settings import Settings


def ingest_and_report(settings: Settings, notes_dir: Path, quiet: bool = False) -> IngestReport:
    def log(message: str) -> None:
        if not quiet:
            print(message, file=sys.stderr)

    store = build_store(settings)
    report = run_ingest(
        notes_dir, store, build_embedder(settings), ingest_config(settings), progress=not quiet, log=log
    )
    if not quiet:
        for f in report.files:
            if f.status == "indexed":
                how = "embedded" if f.embedded else "unchanged"
                read_as = "" if f.encoding in ("utf-8", "utf-8-sig") else f", read as {f.encoding}"
                print(f"  indexed  {f.path}  ({f.n_chunks} chunks, {how}{read_as})")
            else:
                print(f"  {f.status:<8} {f.path}  ({f.reason})")
    state = "new version" if report.changed else "no changes; index kept"
    counts = {s: sum(f.status == s for f in report.files) for s in ("indexed", "skipped", "failed")}
    print(
        f"{state} {report.version}: {counts['indexed']} indexed, {counts['skipped']} skipped, "
        f"{counts['failed']} failed; {report.chunks_indexed} passages ({report.chunks_total} before de-duplication), "
        f"{report.chunks_embedded} embedded{', search graph updated' if report.graph_updated else ''}, "
        f"{report.seconds:.1f}s. Report: {store.report_path}"
    )
    return report
