"""Issue 29's acceptance: the MCP server driven by the SDK's own client, over stdio (a real subprocess) and over
streamable HTTP (a real server on loopback). Fakes for the plumbing; the real models (marked slow) for one answered
and one "no answer found" question, through `notes-qa mcp` on a fresh index."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import httpx2
import pytest
from mcp import ClientSession, StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from index.build import IngestConfig, run_ingest
from index.store import IndexStore
from service.api.app import create_app
from service.backends.settings import Settings
from service.pipeline.answering import Answerer
from service.pipeline.retriever import Retriever
from tests.conftest import NOTES, REPO
from tests.fakes import ALWAYS_ANSWER, HashEmbedder, ScriptedGenerator
from tests.servers import serve_app

KEY = "k-" + "m" * 30
REPLY = "Recall is TP/(TP+FN) [1]."  # what tests.mcp_stdio_fake's generator says too
SECRET = "SECRET-OUTSIDE-THE-NOTES-7f3a"
Session = Callable[[ClientSession], Awaitable[None]]


@pytest.fixture
def vault(tmp_path: Path) -> Path:
    """Notes indexed with the hashing fake; beside them a folder that must never be read."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.md").write_text(f"# Secret\n\n{SECRET}\n")
    (outside / "inner.md").write_text(f"# Inner\n\n{SECRET}\n")
    notes = tmp_path / "notes"
    (notes / "sub").mkdir(parents=True)
    (notes / "metrics.md").write_text(
        "---\ntags: [ml]\n---\n# Metrics\n\n**Recall**\n\nRecall = TP/(TP+FN), the share of real positives found.\n\n"
        "**Precision**\n\nPrecision = TP/(TP+FP), the share of predicted positives that are right.\n"
    )
    (notes / "long.md").write_text("# Long\n\n" + "filler of the long note\n" * 4998)
    (notes / "moved.md").write_text("# Moved\n\nThis note will become a link out of the folder.\n")
    (notes / "sub" / "inner.md").write_text("# Inner\n\nAn inner note about gradient descent.\n")
    (notes / "link-out.md").symlink_to(outside / "secret.md")  # skipped by ingest
    run_ingest(notes, IndexStore(tmp_path / "index"), HashEmbedder(), IngestConfig())
    return notes


def turn_links_outward(notes: Path) -> None:
    """After ingest: an indexed note and an indexed folder become links out of the notes folder."""
    outside = notes.parent / "outside"
    (notes / "moved.md").unlink()
    (notes / "moved.md").symlink_to(outside / "secret.md")
    shutil.rmtree(notes / "sub")
    (notes / "sub").symlink_to(outside, target_is_directory=True)


def make_app(vault: Path, generator: Any = None, **overrides: Any) -> Any:
    tmp = vault.parent
    defaults: dict[str, Any] = {"api_keys": [KEY], "rate_limit": ""}
    settings = Settings(data_dir=tmp / "data", index_path=tmp / "index", notes_dir=vault, **{**defaults, **overrides})
    store = IndexStore(tmp / "index")
    qa = Answerer(Retriever(store, HashEmbedder()), generator or ScriptedGenerator(REPLY), 3, ALWAYS_ANSWER)
    return create_app(settings, answerer=qa)


@asynccontextmanager
async def http_session(base: str, key: str | None = KEY) -> AsyncIterator[ClientSession]:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=60) as http,
        streamable_http_client(f"{base}/mcp", http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield session


def over_http(base: str, scenario: Session, key: str | None = KEY) -> None:
    async def run() -> None:
        with anyio.fail_after(60):
            async with http_session(base, key) as session:
                await scenario(session)

    run_unwrapped(run)


def run_unwrapped(run: Callable[[], Awaitable[None]]) -> None:
    """``anyio.run``, raising the one error inside the task groups' exception groups (a readable failure)."""
    try:
        anyio.run(run)
    except BaseExceptionGroup as group:
        error: BaseException = group
        while isinstance(error, BaseExceptionGroup) and len(error.exceptions) == 1:
            error = error.exceptions[0]
        raise error from None


def over_stdio(vault: Path, scenario: Session, log: Path, command: list[str] | None = None,
               env: dict[str, str] | None = None, timeout: float = 60) -> None:  # fmt: skip
    tmp = vault.parent
    server = StdioServerParameters(
        command=sys.executable,
        args=command or ["-m", "tests.mcp_stdio_fake"],
        cwd=REPO,
        env={
            "HF_HUB_OFFLINE": "1",
            "NOTES_QA_NOTES_DIR": str(vault),
            "NOTES_QA_INDEX_PATH": str(tmp / "index"),
            "NOTES_QA_DATA_DIR": str(tmp / "data"),
            "NOTES_QA_LOG_FORMAT": "text",
            **(env or {}),
        },
    )

    async def run() -> None:
        with anyio.fail_after(timeout), log.open("w") as errlog:
            async with stdio_client(server, errlog=errlog) as (read, write), ClientSession(read, write) as session:
                await session.initialize()
                await scenario(session)

    run_unwrapped(run)


def structured(result: Any) -> dict[str, Any]:
    assert not result.is_error, result.content
    data: dict[str, Any] = result.structured_content
    assert json.loads(result.content[0].text) == data  # the text content says the same, for hosts that read text
    return data


def error_text(result: Any) -> str:
    assert result.is_error, result
    text: str = result.content[0].text
    assert "Traceback" not in text and "/tmp" not in text and str(REPO) not in text and SECRET not in text
    return text


async def each_tool_works(session: ClientSession) -> None:
    tools = {t.name: t for t in (await session.list_tools()).tools}
    assert set(tools) == {"search_notes", "ask_notes", "read_note"}
    assert tools["ask_notes"].input_schema["required"] == ["question"]
    assert {"top_k", "folder", "tag", "file", "since", "until"} <= set(tools["ask_notes"].input_schema["properties"])
    assert tools["read_note"].input_schema["properties"]["start_line"]["anyOf"][0]["minimum"] == 1
    assert all(t.description and t.output_schema for t in tools.values())

    found = structured(await session.call_tool("search_notes", {"query": "Recall = TP/(TP+FN)", "top_k": 2}))
    top = found["passages"][0]
    assert len(found["passages"]) == 2 and top["rank"] == 1
    assert top["file"] == "metrics.md" and top["start_line"] >= 1 and top["link"].startswith("file://")
    scoped = structured(await session.call_tool("search_notes", {"query": "gradient", "folder": "sub"}))
    assert {p["file"] for p in scoped["passages"]} == {"sub/inner.md"}

    progress: list[tuple[float, float | None, str | None]] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        progress.append((done, total, message))

    asked = structured(
        await session.call_tool("ask_notes", {"question": "What is recall?"}, progress_callback=on_progress)
    )
    assert asked["answer"] == REPLY and asked["abstained"] is False
    cited = [e for e in asked["evidence"] if e["cited"]]
    assert cited and "TP/(TP+FN)" in cited[0]["quote"] and cited[0]["file"] == "metrics.md"
    assert [p[0] for p in progress] == [1, 2, 3]  # the evidence, the answer being written, done
    assert progress[0][2] and progress[0][2].startswith("evidence: [1] metrics.md")

    note = structured(await session.call_tool("read_note", {"file": "metrics.md", "start_line": 4, "end_line": 5}))
    assert note["text"] == "# Metrics\n" and note["title"] == "Metrics" and note["total_lines"] == 12
    whole = structured(await session.call_tool("read_note", {"file": "metrics.md"}))
    assert whole["text"].splitlines()[:3] == ["", "", ""]  # front matter blanked: the lines citations count

    listed = {r.name: r for r in (await session.list_resources()).resources}
    assert set(listed) == {"metrics.md", "long.md", "moved.md", "sub/inner.md"}  # not the link out
    assert listed["metrics.md"].uri == "notes://metrics.md" and listed["metrics.md"].title == "Metrics"
    assert listed["metrics.md"].description and "#ml" in listed["metrics.md"].description
    assert listed["metrics.md"].annotations and listed["metrics.md"].annotations.last_modified
    read = await session.read_resource("notes://sub/inner.md")
    assert "gradient descent" in read.contents[0].text  # type: ignore[union-attr]
    prompts = (await session.list_prompts()).prompts
    assert [p.name for p in prompts] == ["answer_from_notes"]


async def hostile_calls_are_refused(session: ClientSession) -> None:
    refusals = {
        "../outside/secret.md": "'..' is not allowed",
        "sub/../../outside/secret.md": "'..' is not allowed",
        "/etc/passwd": "not an absolute path",
        "~/secret.md": "not an absolute path",
        "C:/Windows/win.ini": "not an absolute path",
        "sub\\..\\secret.md": "backslash",
        "link-out.md": "not a note in the index",
        "moved.md": "leads outside the notes folder",
        "sub/inner.md": "leads outside the notes folder",
        "": "file is empty",
        "x" * 1_000_000: "a note's path has at most 1000",
    }
    for file, reason in refusals.items():
        assert reason in error_text(await session.call_tool("read_note", {"file": file}))
    for uri in ("notes://../outside/secret.md", "notes:///etc/passwd", "notes://moved.md", "notes://sub/inner.md"):
        with pytest.raises(MCPError):
            await session.read_resource(uri)

    huge = structured(await session.call_tool("read_note", {"file": "long.md", "end_line": 10**9}))
    assert huge["start_line"] == 1 and huge["end_line"] == 400 and huge["truncated"] and huge["next_start_line"] == 401
    assert huge["total_lines"] == 5000 and len(huge["text"]) <= 40_000
    assert "has 5000 lines" in error_text(
        await session.call_tool("read_note", {"file": "long.md", "start_line": 10**9})
    )
    assert "before start_line" in error_text(
        await session.call_tool("read_note", {"file": "long.md", "start_line": 9, "end_line": 3})
    )
    assert "greater than or equal to 1" in error_text(
        await session.call_tool("read_note", {"file": "long.md", "start_line": 0})
    )
    assert "the limit is 1,000" in error_text(await session.call_tool("ask_notes", {"question": "q" * 1_000_000}))
    assert "the limit is 1,000" in error_text(await session.call_tool("search_notes", {"query": "q" * 1_000_000}))
    assert "question is empty" in error_text(await session.call_tool("ask_notes", {"question": "  "}))
    assert "No notes match the scope (tag #nosuch)" in error_text(
        await session.call_tool("ask_notes", {"question": "What is recall?", "tag": "nosuch"})
    )
    assert "since is after until" in error_text(
        await session.call_tool("search_notes", {"query": "x", "since": "2024-02-01", "until": "2024-01-01"})
    )
    assert "Unknown tool" in error_text(await session.call_tool("delete_all_notes", {}))
    assert "valid integer" in error_text(await session.call_tool("search_notes", {"query": "x", "top_k": "all"}))
    # still serving, and nothing from outside the notes folder was ever returned
    assert structured(await session.call_tool("search_notes", {"query": "recall"}))["passages"]


def test_stdio_lists_and_calls_each_tool_and_reads_a_resource(vault: Path, tmp_path: Path) -> None:
    over_stdio(vault, each_tool_works, tmp_path / "stdio.log")


def test_stdio_refuses_hostile_inputs_and_keeps_serving(vault: Path, tmp_path: Path) -> None:
    turn_links_outward(vault)
    log = tmp_path / "stdio.log"
    over_stdio(vault, hostile_calls_are_refused, log)
    assert SECRET not in log.read_text()


def test_http_lists_and_calls_each_tool_and_reads_a_resource(vault: Path) -> None:
    with serve_app(make_app(vault)) as base:
        over_http(base, each_tool_works)


def test_http_refuses_hostile_inputs_and_keeps_serving(vault: Path) -> None:
    turn_links_outward(vault)
    with serve_app(make_app(vault, max_body_bytes=2_000_000)) as base:  # room for the 1 MB arguments
        over_http(base, hostile_calls_are_refused)


def test_http_needs_a_key_a_trusted_host_and_origin_and_a_small_body(vault: Path) -> None:
    listing = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    accept = {"Accept": "application/json, text/event-stream"}
    with serve_app(make_app(vault)) as base:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {KEY}"}):
            r = httpx.post(f"{base}/mcp", json=listing, headers={**accept, **headers})
            assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer")
            assert "API key" in r.json()["detail"]
        with pytest.raises(MCPError):  # the SDK client: the handshake fails
            over_http(base, lambda session: anyio.sleep(0), key=None)
        auth = {**accept, "Authorization": f"Bearer {KEY}"}
        foreign = httpx.post(f"{base}/mcp", json=listing, headers={**auth, "Host": "evil.example"})
        assert foreign.status_code == 400 and "not served here" in foreign.text
        page = httpx.post(f"{base}/mcp", json=listing, headers={**auth, "Origin": "http://evil.example"})
        assert page.status_code == 403
        call = {"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                "params": {"name": "search_notes", "arguments": {"query": "q" * 1_000_000}}}  # fmt: skip
        assert httpx.post(f"{base}/mcp", json=call, headers=auth).status_code == 413

        async def big_then_normal(session: ClientSession) -> None:
            with pytest.raises(MCPError):
                await session.call_tool("ask_notes", {"question": "q" * 1_000_000})
            assert structured(await session.call_tool("search_notes", {"query": "recall"}))["passages"]

        over_http(base, big_then_normal)


def test_http_rate_limit_counts_mcp_requests(vault: Path) -> None:
    with serve_app(make_app(vault, rate_limit="3/minute")) as base:
        with pytest.raises(MCPError):  # initialize, initialized, tools/list, then the 4th request is a 429
            over_http(base, each_tool_works)
        r = httpx.post(f"{base}/mcp", json={}, headers={"Authorization": f"Bearer {KEY}"})
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1


def test_ask_notes_and_ask_give_the_same_answer_and_evidence(vault: Path) -> None:
    questions = ["What is the formula for recall?", "What is precision?"]
    with serve_app(make_app(vault)) as base:
        http = [httpx.post(f"{base}/ask", json={"question": q}, headers={"Authorization": f"Bearer {KEY}"}).json()
                for q in questions]  # fmt: skip
        version = httpx.get(f"{base}/ready").json()["index_version"]
        mcp: list[dict[str, Any]] = []

        async def ask_each(session: ClientSession) -> None:
            for q in questions:
                mcp.append(structured(await session.call_tool("ask_notes", {"question": q})))

        over_http(base, ask_each)
        assert httpx.get(f"{base}/ready").json()["index_version"] == version
    for by_http, by_mcp in zip(http, mcp, strict=True):
        assert by_mcp["answer"] == by_http["answer"] and by_mcp["abstained"] == by_http["abstained"]
        assert [(e["n"], e["quote"], e["file"], [e["start_line"], e["end_line"]]) for e in by_mcp["evidence"]] == [
            (e["n"], e["text"], e["file"], e["lines"]) for e in by_http["evidence"]
        ]
        assert {e["n"] for e in by_mcp["evidence"] if e["cited"]} == {c["n"] for c in by_http["citations"]}


def test_a_full_queue_is_a_busy_error_with_a_retry_hint_and_the_deadline_holds(vault: Path) -> None:
    slow = ScriptedGenerator(" ".join(["word"] * 60), delay=0.05)  # ~3 s per answer
    app = make_app(vault, slow, max_running_answers=1, max_waiting_answers=0, answer_timeout_s=1.5)
    with serve_app(app) as base:
        results: list[Any] = []

        async def two_at_once(session: ClientSession) -> None:
            async def ask() -> None:
                results.append(await session.call_tool("ask_notes", {"question": "What is recall?"}))

            async with anyio.create_task_group() as tg:
                tg.start_soon(ask)
                await anyio.sleep(0.5)
                tg.start_soon(ask)

        over_http(base, two_at_once)
        texts = sorted(error_text(r) for r in results)
        assert texts[0].startswith("Error executing tool ask_notes: busy:") and "retry in" in texts[0]
        assert "no answer within the 1.5 s deadline" in texts[1] and "metrics.md (line" in texts[1]


def test_work_before_the_protocol_writes_nothing_on_stdout() -> None:
    """What `notes-qa mcp` does before serving (the first-use ingest) goes to stderr: Python's prints, C-level
    writes and child processes alike; stdout is the protocol's again afterwards."""
    script = (
        "import os, subprocess, sys\n"
        "from service.api.mcp_stdio import stdout_to_stderr\n"
        "with stdout_to_stderr():\n"
        "    print('a report line')\n"
        "    os.write(1, b'a C library line\\n')\n"
        "    subprocess.run([sys.executable, '-c', 'print(\"a child line\")'], check=True)\n"
        "print('protocol')\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "protocol\n"
    assert all(line in done.stderr for line in ("a report line", "a C library line", "a child line"))


@pytest.mark.slow
def test_notes_qa_mcp_on_a_fresh_index_with_the_real_models(tmp_path: Path) -> None:
    """`notes-qa mcp` as a desktop host launches it: no index yet (it is built first, its progress on stderr and
    nothing but the protocol on stdout), then one answered and one "no answer found" question."""
    notes = tmp_path / "notes"
    shutil.copytree(NOTES, notes)
    answers: dict[str, dict[str, Any]] = {}

    async def ask_two(session: ClientSession) -> None:
        for q in ("What is the formula for recall?", "Who won the 2022 football world cup?"):
            answers[q] = structured(await session.call_tool("ask_notes", {"question": q}, read_timeout_seconds=300))

    log = tmp_path / "mcp.log"
    env = {"NOTES_QA_MODEL_CACHE_PATH": str(REPO / ".notes-qa" / "models")}
    over_stdio(notes, ask_two, log, ["-m", "service.api.cli", "mcp"], env, timeout=900)
    recall = answers["What is the formula for recall?"]
    assert not recall["abstained"] and "TP/(TP+FN)" in recall["answer"].replace(" ", "")
    assert any(e["cited"] and "Recall = TP/(TP+FN)" in e["quote"] for e in recall["evidence"])
    world_cup = answers["Who won the 2022 football world cup?"]
    assert world_cup["abstained"] and world_cup["answer"] == "no answer found" and world_cup["related"]
    assert "no index yet: ingesting" in log.read_text()


@pytest.mark.slow
def test_search_and_ask_build_the_index_on_first_use(tmp_path: Path) -> None:
    """On a fresh clone `search` and `ask` index first (the report on stderr), then print only their results."""
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "metrics.md").write_text("# Metrics\n\n**Recall**\n\nRecall = TP/(TP+FN), the share of real positives.\n")
    for command in (["search", "What is recall?"], ["ask", "What is the formula for recall?"]):
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "NOTES_QA_NOTES_DIR": str(notes),
               "NOTES_QA_DATA_DIR": str(tmp_path / command[0]),
               "NOTES_QA_MODEL_CACHE_PATH": str(REPO / ".notes-qa" / "models")}  # fmt: skip
        done = subprocess.run([sys.executable, "-m", "service.api.cli", *command], capture_output=True, text=True,
                              cwd=REPO, env=env, timeout=600)  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert "no index yet: ingesting" in done.stderr and "indexed  metrics.md" in done.stderr
        assert done.stdout.strip() and "indexed" not in done.stdout and "new version" not in done.stdout
        if command[0] == "search":
            assert "metrics.md" in done.stdout.splitlines()[0]
