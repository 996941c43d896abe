"""`notes-qa adapt`: fit the embedder to the served notes within a time budget (``service.backends.adapting``)."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ingest.types import UsageError

if TYPE_CHECKING:
    from service.backends.settings import Settings

Register = Callable[[str, Callable[[Any, argparse.Namespace], int], str], argparse.ArgumentParser]


def add_command(command: Register) -> None:
    p = command(
        "adapt",
        cmd_adapt,
        "Fit the embedder to your notes: the generator writes questions about them, the packaged embedder is "
        "fine-tuned on the ones retrieval confirms, and the result is served only if held-out questions and traps "
        "say it is better. Resumable; the served index stays in use until it ends.",
    )
    p.add_argument("dir", nargs="?", help="notes folder (default: the served index's, else NOTES_QA_NOTES_DIR)")
    p.add_argument(
        "--budget-minutes",
        type=float,
        default=None,
        help="time for the whole run (default: NOTES_QA_ADAPT_BUDGET_MINUTES, 20); question writing stops early",
    )
    p.add_argument("--json", action="store_true", help="print the report as JSON")


class _Bar:
    """The CLI's progress: one tqdm bar per stage, on stderr."""

    def __init__(self) -> None:
        self._bar: Any = None

    def stage(self, name: str, total: int) -> None:
        from tqdm import tqdm

        self.done()
        self._bar = tqdm(total=total, desc=name, unit="unit" if name == "questions" else "step", file=sys.stderr)

    def advance(self, postfix: str = "") -> None:
        if self._bar is not None:
            self._bar.update(1)
            if postfix:
                self._bar.set_postfix_str(postfix, refresh=False)

    def done(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def cmd_adapt(settings: Settings, args: argparse.Namespace) -> int:
    from service.backends.adapting import adapt
    from service.backends.components import build_adapt_job, build_store

    if settings.embedder_backend == "openai":
        raise UsageError("adapt fine-tunes the local embedder; NOTES_QA_EMBEDDER_BACKEND=openai has none")
    budget = args.budget_minutes if args.budget_minutes is not None else settings.adapt_budget_minutes
    if budget <= 0:
        raise UsageError("--budget-minutes must be positive")
    served = build_store(settings).current_manifest()
    notes_dir = (
        Path(args.dir) if args.dir else Path(served.notes_root) if served and served.notes_root else settings.notes_dir
    )
    if not notes_dir.is_dir():
        raise UsageError(f"notes folder not found: {notes_dir}")
    with contextlib.redirect_stdout(sys.stderr):  # the ingest's summary: stdout is the report's
        report = adapt(build_adapt_job(settings, notes_dir, budget), _Bar(), log=lambda m: print(m, file=sys.stderr))
    if args.json:
        print(json.dumps(report.as_dict(), indent=1))
        return 0
    seconds = ", ".join(f"{k} {v:g} s" for k, v in report.seconds.items())
    print(f"{report.outcome}: {report.reason}")
    print(f"  index version {report.version}; {report.units} units, {report.kept} questions kept of "
          f"{report.questions}, {report.traps_kept} traps kept of {report.traps}; {seconds}")  # fmt: skip
    for name, figures in report.check.items():
        print(f"  {name}: held-out hit@1 {figures['hit@1']}, hit@5 {figures['hit@5']}, trap AUC {figures['auc']}")
    return 0
