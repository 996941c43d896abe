"""A bounded load test (``make load``): one real server on loopback, a burst of concurrent ``/ask`` requests.

It starts ``notes-qa serve`` on a free 127.0.0.1 port with the configured models (NOTES_QA_* as usual), warms it
with one question and one burst (threads, sockets and allocator arenas reach their working size), records the
server's RSS, sends N concurrent questions, waits for all of them, records RSS again and stops the server. Every
response must be 200, 429 or 503 with Retry-After; refusals must be fast. Exit status 1 when any of that fails.
It stops by itself (``--timeout``) whatever happens. All requests come from one address, so the per-client rate
limit is raised (``--rate-limit``) to let the burst reach the answer queue; the 429 path is covered by the tests.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil

QUESTIONS = [
    "What is the formula for recall?",
    "What is RLHF?",
    "Explain the vanishing gradient problem",
    "What does a confusion matrix show?",
    "Who won the 2022 football world cup?",
]


CLIENT_NICENESS = 10


@dataclass
class Result:
    status: int
    seconds: float  # as the client saw it (its own queueing on this machine included)
    retry_after: str | None
    server_ms: float | None  # the server's own time to the reply (Server-Timing)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def rss_mb(pid: int) -> float:
    """The server's resident memory, its worker processes included."""
    proc = psutil.Process(pid)
    return sum(p.memory_info().rss for p in [proc, *proc.children(recursive=True)]) / 1e6


async def post(host: str, port: int, path: str, body: bytes) -> tuple[int, dict[str, str]]:
    """One HTTP/1.1 POST on its own connection, read to the end: a minimal client, so that timing the server
    is not timing a heavy client on the same two cores. Returns the status and the headers."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        head = f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
        writer.write(f"{head}Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body)
        await writer.drain()
        status_line = await reader.readline()
        headers: dict[str, str] = {}
        while (line := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        await reader.read()  # the body, until the server closes
        return int(status_line.split()[1]), headers
    finally:
        writer.close()


async def burst(base: str, n: int, timeout: float) -> list[Result]:
    host, port = base.removeprefix("http://").split(":")

    async def one(i: int) -> Result:
        body = json.dumps({"question": QUESTIONS[i % len(QUESTIONS)]}).encode()
        started = time.perf_counter()
        try:
            status, headers = await asyncio.wait_for(post(host, int(port), "/ask", body), timeout)
        except (OSError, TimeoutError, ValueError, IndexError):
            return Result(0, time.perf_counter() - started, None, None)
        seconds = time.perf_counter() - started
        timing = headers.get("server-timing", "")
        server_ms = float(timing.split("dur=")[1]) if "dur=" in timing else None
        return Result(status, seconds, headers.get("retry-after"), server_ms)

    return list(await asyncio.gather(*(one(i) for i in range(n))))


def wait_ready(base: str, server: subprocess.Popen[bytes], deadline: float) -> None:
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server exited ({server.returncode}) before it was ready")
        try:
            if httpx.get(base + "/ready", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise SystemExit("the server did not become ready in time")


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1] if len(values) > 1 else values[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200, help="concurrent /ask requests (default 200)")
    parser.add_argument("--timeout", type=float, default=600, help="stop everything after this many seconds")
    parser.add_argument("--rate-limit", default="2000/minute", help="the server's NOTES_QA_RATE_LIMIT for this run")
    parser.add_argument("--log", type=Path, default=Path("eval-runs/load-server.log"))
    args = parser.parse_args(argv)
    deadline = time.monotonic() + args.timeout
    with running_server(args.log, {"NOTES_QA_RATE_LIMIT": args.rate_limit}) as (base, server):
        # Real clients do not share the server's CPU: this one yields it (like the model process does).
        os.nice(CLIENT_NICENESS)
        return run(base, server, args, deadline)


@contextmanager
def running_server(
    log_path: Path, env: dict[str, str], args: tuple[str, ...] = ()
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``notes-qa serve [args]`` with the configured models (NOTES_QA_* as usual, plus ``env``) on a free loopback
    port, logging to ``log_path``; yields (base URL, process) at once and stops its process group on exit."""
    port = free_port()
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "service.api.cli", "serve", "--host", "127.0.0.1", "--port", str(port), *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "NOTES_QA_LOG_LEVEL": "WARNING", **env},
            start_new_session=True,
        )
        try:
            yield f"http://127.0.0.1:{port}", server
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)


def run(base: str, server: subprocess.Popen[bytes], args: argparse.Namespace, deadline: float) -> int:
    started = time.monotonic()
    wait_ready(base, server, deadline)
    ready_s = time.monotonic() - started
    warm = httpx.post(base + "/ask", json={"question": QUESTIONS[0]}, timeout=120)
    asyncio.run(burst(base, args.requests, max(10.0, deadline - time.monotonic())))
    time.sleep(2)
    rss_before = rss_mb(server.pid)
    wall = time.perf_counter()
    results = asyncio.run(burst(base, args.requests, max(10.0, deadline - time.monotonic())))
    wall = time.perf_counter() - wall
    time.sleep(2)  # answers still finishing after their client got a reply: none should be left
    rss_after = rss_mb(server.pid)
    after = httpx.post(base + "/search", json={"question": QUESTIONS[1]}, timeout=30).status_code

    codes = Counter(r.status for r in results)
    rejected = [r.seconds * 1000 for r in results if r.status in (429, 503)]
    rejected_server = [r.server_ms for r in results if r.status in (429, 503) and r.server_ms is not None]
    answered = [r.seconds * 1000 for r in results if r.status == 200]
    bad = [r for r in results if r.status not in (200, 429, 503) or (r.status == 503 and not r.retry_after)]
    growth = (rss_after - rss_before) / rss_before
    print(f"server ready in {ready_s:.1f} s; warm-up answer HTTP {warm.status_code}, then one warm-up burst")
    print(
        f"{args.requests} concurrent /ask in {wall:.1f} s: " + ", ".join(f"{c}: {n}" for c, n in sorted(codes.items()))
    )
    if rejected:
        print(
            f"refusals (429/503): server time p50 {pct(rejected_server, 50):.1f} ms, p99 "
            f"{pct(rejected_server, 99):.1f} ms; as the client saw them ({args.requests} connections opened at once "
            f"on this machine) p50 {pct(rejected, 50):.0f} ms, p99 {pct(rejected, 99):.0f} ms"
        )
    if answered:
        print(f"answers (200): p50 {pct(answered, 50):.0f} ms, max {max(answered):.0f} ms")
    print(f"server RSS {rss_before:.0f} MB before, {rss_after:.0f} MB after ({growth:+.1%}); /search after: {after}")
    problems = []
    if bad:
        problems.append(f"{len(bad)} responses were not 200, 429 or 503-with-Retry-After")
    if rejected and (len(rejected_server) < len(rejected) or pct(rejected_server, 99) >= 100):
        problems.append("refusals p99 (server time) is not under 100 ms")
    if abs(growth) > 0.10:
        problems.append("RSS moved by more than 10 %")
    if after != 200:
        problems.append("the server did not answer after the burst")
    return verdict(problems)


def verdict(problems: list[str]) -> int:
    """Print each problem and PASS or FAILED; the exit status (shared by the load scripts)."""
    for problem in problems:
        print(f"FAIL: {problem}")
    print("PASS" if not problems else "FAILED")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
