"""Compare two eval runs: a per-metric diff table and the questions whose correctness flipped."""

from __future__ import annotations

import json
from pathlib import Path

from eval.report import HEADLINE
from eval.runner import read_results


def compare_runs(a: Path, b: Path) -> str:
    ma, mb = (json.loads((d / "metrics.json").read_text()) for d in (a, b))
    lines = [f"{'metric':<20}{ma['label'][:14]:>15}{mb['label'][:14]:>15}{'diff':>10}"]
    for key in HEADLINE:
        va, vb = ma["metrics"].get(key), mb["metrics"].get(key)
        diff = f"{vb - va:+.3f}" if isinstance(va, int | float) and isinstance(vb, int | float) else ""
        lines.append(f"{key:<20}{_fmt(va):>15}{_fmt(vb):>15}{diff:>10}")
    ra = {r.id: r for r in read_results(a / "results.jsonl")}
    rb = {r.id: r for r in read_results(b / "results.jsonl")}
    flipped = [(i, ra[i], rb[i]) for i in ra if i in rb and ra[i].correct != rb[i].correct]
    lines += ["", f"{len(flipped)} question(s) flipped:"]
    for qid, x, y in flipped:
        arrow = "fixed" if y.correct else "broke"
        lines.append(f"  {qid} {arrow}: {x.question}")
        lines.append(f"      A: {x.answer[:100]!r}")
        lines.append(f"      B: {y.answer[:100]!r}")
    return "\n".join(lines)


def _fmt(value: object) -> str:
    return f"{value:.3f}" if isinstance(value, float) else str(value)
