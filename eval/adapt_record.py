"""`python -m eval.adapt_record NOTES --index DIR --out FILE.json [--kill-after S]`: `notes-qa adapt` as a user runs it,
recorded for BENCHMARKS.md.

With ``--kill-after``, a first run is killed (SIGKILL) that many seconds in: the served version must be the one it
started from, not adapted. Then a run to the end with the default budget (wall time, the command's own report:
units, questions kept, traps, seconds per stage, the check), then a second run on the unchanged notes (seconds).
Each run is the real command in its own process, with ``NOTES_QA_INDEX_PATH=DIR``."""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from index.store import IndexStore


def cpu_flags() -> list[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return []
    return sorted(set(re.findall(r"\b(avx2|avx512[a-z_0-9]*|amx[a-z_0-9]*)\b", text)))


def run(notes: Path, env: dict[str, str], kill_after: float | None = None) -> dict[str, Any]:
    command = [sys.executable, "-m", "service.api.cli", "adapt", str(notes), "--json"]
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    if kill_after is not None:
        try:
            process.wait(timeout=kill_after)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGKILL)
            process.wait()
        return {"killed_after_s": kill_after, "returncode": process.returncode}
    out, _ = process.communicate()
    wall = round(time.perf_counter() - started, 1)
    report = json.loads(out[out.index("{") :]) if "{" in out else None
    return {"wall_s": wall, "returncode": process.returncode, "report": report}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.adapt_record")
    parser.add_argument("notes", type=Path)
    parser.add_argument("--index", type=Path, required=True, help="a fresh index directory")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--kill-after", type=float, default=None)
    args = parser.parse_args(argv)
    env = {**os.environ, "NOTES_QA_INDEX_PATH": str(args.index)}
    store = IndexStore(args.index)
    data: dict[str, Any] = {
        "command": f"python -m eval.adapt_record {args.notes} --index DIR --out {args.out}"
        + (f" --kill-after {args.kill_after:g}" if args.kill_after else ""),
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "notes": args.notes.resolve().name,
        "cpu_flags": cpu_flags(),
        "cores": os.cpu_count(),
    }
    if args.kill_after:
        killed = run(args.notes, env, args.kill_after)
        served = store.current_manifest()
        pairs = store.root / "adapt" / "pairs.jsonl"
        killed.update(served_after_kill=served.version if served else None,
                      adapted_after_kill=bool(served and served.adapter),
                      units_written_before_kill=len(pairs.read_text().splitlines()) if pairs.exists() else 0)  # fmt: skip
        data["killed"] = killed
    data["run"] = run(args.notes, env)
    data["second_run"] = run(args.notes, env)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(data, indent=1) + "\n")
    print(json.dumps(data, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
