"""The MCP endpoint under load (``python -m eval.mcp_load``): one real server on loopback, N concurrent MCP clients
each calling ``ask_notes`` once.

It starts ``notes-qa serve`` on a free 127.0.0.1 port with the configured models (NOTES_QA_* as usual; the index is
built first when there is none), with an API key, warms it with one ``ask_notes``, then opens N client sessions at
once (the official SDK's streamable HTTP client, each its own connection) and calls ``ask_notes`` in each. Every
call must end as an answer or as a busy tool error with a retry hint ("retry in N s"), and none may take longer
than the answer deadline (NOTES_QA_ANSWER_TIMEOUT_S) plus a few seconds; ``/search`` must answer afterwards. Exit
status 1 when any of that fails. All clients share one key, so the per-client rate limit is raised
(``--rate-limit``): each session makes three HTTP requests (initialize, initialized, the call).
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import anyio
import httpx
import httpx2
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

from eval.load import CLIENT_NICENESS, QUESTIONS, pct, running_server, verdict, wait_ready

SLACK_S = 5.0  # over the deadline: the time to send a reply and for this client to read it
RETRY_HINT = re.compile(r"retry in (\d+) s")


@dataclass
class Outcome:
    kind: str  # answer | abstained | busy | error | hang
    seconds: float
    detail: str = ""


async def ask(base: str, key: str, question: str, give_up_s: float) -> Outcome:
    """One client: its own session, one ``ask_notes`` call."""
    started = time.perf_counter()
    try:
        with anyio.fail_after(give_up_s):
            async with (
                httpx2.AsyncClient(headers={"Authorization": f"Bearer {key}"}, timeout=give_up_s) as http,
                streamable_http_client(f"{base}/mcp", http_client=http) as (read, write),
                ClientSession(read, write) as session,
            ):
                await session.initialize()
                result = await session.call_tool("ask_notes", {"question": question})
    except TimeoutError:
        return Outcome("hang", time.perf_counter() - started)
    except Exception as exc:  # a transport or protocol failure (an exception group from the client's tasks)
        return Outcome("error", time.perf_counter() - started, repr(exc)[:300])
    seconds = time.perf_counter() - started
    text = result.content[0].text if result.content and result.content[0].type == "text" else ""
    if result.is_error:
        busy = "busy" in text and RETRY_HINT.search(text)
        return Outcome("busy" if busy else "error", seconds, text[:300])
    abstained = bool(result.structured_content and result.structured_content.get("abstained"))
    return Outcome("abstained" if abstained else "answer", seconds)


async def burst(base: str, key: str, clients: int, give_up_s: float) -> list[Outcome]:
    outcomes: list[Outcome] = []

    async def one(i: int) -> None:
        outcomes.append(await ask(base, key, QUESTIONS[i % len(QUESTIONS)], give_up_s))

    async with anyio.create_task_group() as tg:
        for i in range(clients):
            tg.start_soon(one, i)
    return outcomes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=20, help="concurrent MCP clients (default 20)")
    parser.add_argument("--deadline", type=float, default=None, help="the server's answer deadline, seconds "
                        "(NOTES_QA_ANSWER_TIMEOUT_S; default: the configured one, 60)")  # fmt: skip
    parser.add_argument("--timeout", type=float, default=600, help="stop everything after this many seconds")
    parser.add_argument("--rate-limit", default="2000/minute", help="the server's NOTES_QA_RATE_LIMIT for this run")
    parser.add_argument("--log", type=Path, default=Path("eval-runs/mcp-load-server.log"))
    args = parser.parse_args(argv)
    from service.backends.settings import Settings

    deadline_s = args.deadline or Settings().answer_timeout_s
    key = secrets.token_urlsafe(24)
    env = {
        "NOTES_QA_RATE_LIMIT": args.rate_limit,
        "NOTES_QA_API_KEYS": key,
        "NOTES_QA_ANSWER_TIMEOUT_S": str(deadline_s),
    }
    stop_at = time.monotonic() + args.timeout
    with running_server(args.log, env) as (base, server):
        started = time.monotonic()
        wait_ready(base, server, stop_at)
        ready_s = time.monotonic() - started
        os.nice(CLIENT_NICENESS)  # real clients do not share the server's CPU
        give_up_s = deadline_s + SLACK_S
        warm = anyio.run(ask, base, key, QUESTIONS[0], give_up_s)
        wall = time.perf_counter()
        outcomes = anyio.run(burst, base, key, args.clients, give_up_s)
        wall = time.perf_counter() - wall
        after = httpx.post(f"{base}/search", json={"question": QUESTIONS[1]},
                           headers={"Authorization": f"Bearer {key}"}, timeout=30).status_code  # fmt: skip
    return report(outcomes, warm, ready_s, wall, deadline_s, after, args.clients)


def report(outcomes: list[Outcome], warm: Outcome, ready_s: float, wall: float, deadline_s: float, after: int,
           clients: int) -> int:  # fmt: skip
    kinds = Counter(o.kind for o in outcomes)
    print(f"server ready in {ready_s:.1f} s; warm-up ask_notes: {warm.kind} in {warm.seconds:.1f} s")
    print(f"{clients} concurrent MCP sessions calling ask_notes, {wall:.1f} s in all: "
          + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items())))  # fmt: skip
    answered = [o.seconds * 1000 for o in outcomes if o.kind in ("answer", "abstained")]
    refused = [o for o in outcomes if o.kind == "busy"]
    if answered:
        print(f"answers: p50 {pct(answered, 50):.0f} ms, max {max(answered):.0f} ms (deadline {deadline_s:g} s)")
    if refused:
        hints = sorted({int(m.group(1)) for o in refused if (m := RETRY_HINT.search(o.detail))})
        times = [o.seconds * 1000 for o in refused]
        print(f"busy errors (session opened and call refused): p50 {pct(times, 50):.0f} ms, max {max(times):.0f} ms; "
              f"retry hints {hints} s")  # fmt: skip
    slowest = max((o.seconds for o in outcomes), default=0.0)
    print(f"slowest call {slowest:.1f} s; /search after: {after}")
    problems = [f"{o.kind}: {o.detail or f'{o.seconds:.1f} s'}" for o in outcomes if o.kind in ("error", "hang")]
    if slowest > deadline_s + SLACK_S:
        problems.append(f"a call took {slowest:.1f} s, past the {deadline_s:g} s deadline")
    if warm.kind not in ("answer", "abstained"):
        problems.append(f"the warm-up call did not answer: {warm.kind} {warm.detail}")
    if after != 200:
        problems.append("the server did not answer /search after the burst")
    return verdict(problems)


if __name__ == "__main__":
    sys.exit(main())
