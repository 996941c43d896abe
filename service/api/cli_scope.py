"""The CLI's scope options (``--folder --file --tag --since --until``), shared by ``search`` and ``ask``."""

from __future__ import annotations

import argparse
from typing import Any

from ingest.types import UsageError


def add_scope_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("scope", "answer only from these notes (filters combine with AND)")
    g.add_argument("--folder", help="a folder of the notes folder, with its subfolders")
    g.add_argument("--file", help="a glob over the note's path or name, e.g. '*interview*'")
    g.add_argument("--tag", help="a tag ('#' optional); 'ml' also matches 'ml/vision'")
    g.add_argument("--since", type=_day, help="notes dated on or after YYYY-MM-DD (front matter date, else modified)")
    g.add_argument("--until", type=_day, help="notes dated on or before YYYY-MM-DD")


def scope_of(args: argparse.Namespace) -> Any:
    from index.scope import Scope

    try:
        return Scope(args.folder, args.file, args.tag, args.since, args.until)
    except ValueError as exc:
        raise UsageError(f"scope: {exc}") from None


def _day(value: str) -> Any:
    from datetime import date

    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date YYYY-MM-DD, got {value!r}") from None
