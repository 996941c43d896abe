"""Sections of BENCHMARKS.md measured by hand, outside `notes-qa bench`, from their committed result files: every
bench re-prints them instead of dropping them."""

from __future__ import annotations

import json
from pathlib import Path

RESULTS = Path(__file__).resolve().parents[1] / "results"


def adapt_runs() -> list[str]:
    """`notes-qa adapt` runs recorded by hand (``eval/results/adapt/runs/*.json``; the bench does not run them)."""
    runs = [json.loads(p.read_text(encoding="utf-8")) for p in sorted((RESULTS / "adapt" / "runs").glob("*.json"))]
    if not runs:
        return []
    lines = [
        "## Per-vault adaptation (`notes-qa adapt`, default budget)",
        "",
        "Recorded by `python -m eval.adapt_record NOTES --index DIR --out eval/results/adapt/runs/NAME.json` (the "
        "command in its own process, on a fresh index; committed, re-printed here by every bench). Pairs: units the "
        "generator was asked about, questions kept by the retrieval filter, traps kept by the whole-vault check. "
        "Default budget 20 min (1,200 s) for the whole run; the converted-model cache was warm "
        "(`NOTES_QA_MODEL_CACHE_PATH`), as after any first use.",
        "",
        "| notes | machine | units | kept | traps kept | seconds: index · questions · train · re-embed · check · total "
        "| wall | outcome | held-out hit@1 | trap AUC | second run | killed run |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for run in runs:
        r = run["run"]["report"]
        s = r["seconds"]
        stages = " · ".join(f"{s.get(k, 0):g}" for k in ("index", "questions", "train", "re-embed", "check", "total"))
        check = r.get("check") or {}
        hit = auc = "–"
        if check:
            hit = f"{check['packaged']['hit@1']} → {check['adapted']['hit@1']} ({check['packaged']['n_held_out']} Qs)"
            auc = f"{check['packaged']['auc']} → {check['adapted']['auc']} ({check['packaged']['n_traps']} traps)"
        second = run["second_run"]
        killed = run.get("killed")
        kill = (
            f"SIGKILL at {killed['killed_after_s']:g} s: served {'adapted' if killed['adapted_after_kill'] else 'the version it started from'}"
            if killed
            else "–"
        )
        lines.append(
            f"| {run['notes']} | {run['cores']} cores, {_flags(run['cpu_flags'])} | {r['units']} "
            f"| {r['kept']} of {r['questions']} | {r['traps_kept']} of {r['traps']} | {stages} | {run['run']['wall_s']:g} s "
            f"| {r['outcome']} | {hit} | {auc} | {second['report']['outcome']}, {second['wall_s']:g} s | {kill} |"
        )
    return lines


def mcp_load() -> list[str]:
    """The MCP load run, recorded by hand (``eval/results/mcp-load/section.md``)."""
    path = RESULTS / "mcp-load" / "section.md"
    return path.read_text(encoding="utf-8").rstrip().splitlines() if path.exists() else []


def _flags(flags: list[str]) -> str:
    """The flags that decide these timings (the full list is in the result file)."""
    shown = [f for f in ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16") if f in flags]
    return ", ".join(shown) or "no avx2"
