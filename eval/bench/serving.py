"""The real server, started as a user starts it: cold start to /ready (model caches warm), RSS while serving,
/search over HTTP against the naive in-process script (in alternating rounds, so both see the same machine), /ask
end to end, and answers per minute with 1, 2 and 4 concurrent clients."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from eval.bench.timing import Timing, summarise
from eval.load import post, rss_mb, running_server, wait_ready


@contextmanager
def server(log_path: Path, timeout_s: float = 300) -> Iterator[tuple[str, subprocess.Popen[bytes], float]]:
    """``notes-qa serve`` on a free loopback port; yields (base URL, process, seconds from start to /ready)."""
    started = time.monotonic()
    with running_server(log_path, {"NOTES_QA_RATE_LIMIT": "100000/minute"}) as (base, process):
        wait_ready(base, process, time.monotonic() + timeout_s)
        yield base, process, time.monotonic() - started


def run(
    questions: list[str],
    naive: Callable[[str], object],
    clients: list[int],
    per_client: int,
    log_path: Path,
    search_rounds: int = 3,
    log: Any = print,
) -> dict[str, Any]:
    """``naive``: the naive script's search for one question (embed + exact numpy), run in this process; it and
    ``/search`` take turns, ``search_rounds`` blocks of every question each."""
    with server(log_path) as (base, process, ready_s):
        log(f"  serving  cold start to /ready {ready_s:.1f} s")
        first = time.perf_counter()
        httpx.post(base + "/ask", json={"question": questions[0]}, timeout=120).raise_for_status()
        first_answer_s = time.perf_counter() - first
        search, baseline = _search_times(base, questions, naive, search_rounds)
        rss_ready = rss_mb(process.pid)
        rows = []
        for n in clients:
            wall, seconds, codes = asyncio.run(_clients(base, questions, n, per_client))
            answered = [s for s, c in zip(seconds, codes, strict=True) if c == 200]
            t = summarise(answered) if answered else None
            row = {"clients": n, "answers": len(answered), "failed": len(seconds) - len(answered),
                   "answers_per_min": round(len(answered) / wall * 60, 1), "ask": t.as_dict() if t else None}  # fmt: skip
            rows.append(row)
            log(f"  serving  {n} client(s): {row['answers_per_min']} answers/min; /ask p50 "
                f"{t.p50_ms if t else float('nan'):.0f} ms, p95 {t.p95_ms if t else float('nan'):.0f} ms")  # fmt: skip
        rss_serving = rss_mb(process.pid)
    log(f"  serving  /search over HTTP p50 {search.p50_ms:.1f} ms (naive script {baseline.p50_ms:.1f} ms); "
        f"RSS {rss_ready:.0f} MB ready, {rss_serving:.0f} MB after the load")  # fmt: skip
    return {
        "cold_start_s": round(ready_s, 2),
        "first_answer_s": round(first_answer_s, 2),
        "search_http": search.as_dict(),
        "naive_script": baseline.as_dict(),
        "search_vs_naive": round(search.p50_ms / baseline.p50_ms, 3),
        "rss_ready_mb": round(rss_ready),
        "rss_serving_mb": round(rss_serving),
        "throughput": rows,
    }


def _search_times(
    base: str, questions: list[str], naive: Callable[[str], object], rounds: int
) -> tuple[Timing, Timing]:
    """(/search over HTTP, the naive script), each over every question ``rounds`` times, taking turns by round."""
    http: list[float] = []
    script: list[float] = []
    with httpx.Client(base_url=base, timeout=30) as client:
        client.post("/search", json={"question": questions[0]})  # a warm connection, as a page keeps one
        naive(questions[0])
        for _ in range(rounds):
            for q in questions:
                started = time.perf_counter()
                client.post("/search", json={"question": q}).raise_for_status()
                http.append(time.perf_counter() - started)
            for q in questions:
                started = time.perf_counter()
                naive(q)
                script.append(time.perf_counter() - started)
    return summarise(http), summarise(script)


async def _clients(base: str, questions: list[str], n: int, per_client: int) -> tuple[float, list[float], list[int]]:
    """``n`` clients, each asking ``per_client`` questions one after another; (wall s, per-answer s, statuses)."""
    host, port = base.removeprefix("http://").split(":")
    seconds: list[float] = []
    codes: list[int] = []

    async def client(c: int) -> None:
        for i in range(per_client):
            body = json.dumps({"question": questions[(c * per_client + i) % len(questions)]}).encode()
            started = time.perf_counter()
            status, _ = await post(host, int(port), "/ask", body)
            seconds.append(time.perf_counter() - started)
            codes.append(status)

    started = time.perf_counter()
    await asyncio.gather(*(client(c) for c in range(n)))
    return time.perf_counter() - started, seconds, codes
