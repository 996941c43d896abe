"""Hostile HTTP: every route, with keys on. Each request gets a 4xx (or 503) with a reason, never a 500, and the
server answers a normal question afterwards. Plus rate limits, back-pressure, deadlines and disconnects."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from service.api.app import create_app
from service.backends.settings import Settings
from service.pipeline.answering import Answerer
from service.pipeline.retriever import Retriever
from tests.fakes import ALWAYS_ANSWER, ScriptedGenerator
from tests.servers import serve_app

KEY = "k-" + "x" * 30
AUTH = {"Authorization": f"Bearer {KEY}"}
ASK = {"question": "What is the formula for recall?"}
CHAT = {"model": "notes-qa", "messages": [{"role": "user", "content": "What is the formula for recall?"}]}
REPLY = "Recall is TP/(TP+FN) [1]."


def make_app(small_index, tmp_path, generator: Any = None, **overrides: Any):  # type: ignore[no-untyped-def]
    store, embedder = small_index
    defaults: dict[str, Any] = {"api_keys": [KEY], "rate_limit": "", "max_question_chars": 200}
    settings = Settings(data_dir=tmp_path, **{**defaults, **overrides})
    qa = Answerer(Retriever(store, embedder), generator or ScriptedGenerator(REPLY), 3, ALWAYS_ANSWER)
    return create_app(settings, answerer=qa)


@pytest.fixture
def client(small_index, tmp_path) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with TestClient(make_app(small_index, tmp_path), base_url="http://localhost") as c:
        yield c


def deep(n: int) -> str:
    return "[" * n + "]" * n


PROTECTED = [
    ("POST", "/ask", ASK),
    ("POST", "/ask/stream", ASK),
    ("POST", "/search", ASK),
    ("POST", "/v1/chat/completions", CHAT),
    ("GET", "/v1/models", None),
    ("GET", "/v1/models/notes-qa", None),
]
BAD_AUTH = [
    {},
    {"Authorization": "Bearer wrong-key"},
    {"Authorization": f"Basic {KEY}"},
    {"Authorization": "Bearer"},
    {"Authorization": "Bearer " + "y" * 8000},
    {"Authorization": f"Bearer {KEY[:-1]}"},
]


@pytest.mark.parametrize("method,path,body", PROTECTED)
@pytest.mark.parametrize("headers", BAD_AUTH, ids=["none", "wrong", "basic", "empty", "huge", "prefix"])
def test_keys_are_required(client, method, path, body, headers) -> None:  # type: ignore[no-untyped-def]
    r = client.request(method, path, json=body, headers=headers)
    assert r.status_code == 401, r.text
    assert r.headers["www-authenticate"].startswith('Bearer realm="notes-qa"')
    message = r.json()["error"]["message"] if path.startswith("/v1/") else r.json()["detail"]
    assert "API key" in message and KEY not in r.text


@pytest.mark.parametrize("path", ["/health", "/ready", "/metrics", "/", "/widget.js", "/docs", "/openapi.json"])
def test_public_paths_need_no_key(client, path) -> None:  # type: ignore[no-untyped-def]
    assert client.get(path).status_code == 200


# (method, path, request kwargs, expected status, a word of the reason)
HOSTILE: list[tuple[str, str, dict[str, Any], int, str]] = [
    # oversize bodies: refused unread
    ("POST", "/ask", {"content": b'{"question": "' + b"a" * 70_000 + b'"}'}, 413, "Content Too Large"),
    ("POST", "/search", {"content": b"x" * 1_000_000}, 413, "Content Too Large"),
    ("POST", "/v1/chat/completions", {"content": b" " * 200_000}, 413, "Content Too Large"),
    ("POST", "/ask/stream", {"content": b"{" * 65_537}, 413, "Content Too Large"),
    # deep JSON
    ("POST", "/ask", {"content": '{"question": ' + deep(20_000) + "}"}, 400, "parsing"),
    ("POST", "/search", {"content": '{"question": "x", "top_k": ' + deep(5_000) + "}"}, 400, "parsing"),
    ("POST", "/v1/chat/completions", {"content": deep(30_000)}, 400, "parsing"),
    # wrong types and values
    ("POST", "/ask", {"json": {"question": 42}}, 422, "string"),
    ("POST", "/ask", {"json": {"question": ["a", "b"]}}, 422, "string"),
    ("POST", "/ask", {"json": {"question": None}}, 422, "string"),
    ("POST", "/ask", {"json": {"question": {"$gt": ""}}}, 422, "string"),
    ("POST", "/ask", {"json": {"question": "   "}}, 422, "empty"),
    ("POST", "/ask", {"json": {}}, 422, "required"),
    ("POST", "/ask", {"json": [ASK]}, 422, "dictionary"),
    ("POST", "/ask", {"content": '{"question": "x", "top_k": 1e309}'}, 422, "integer"),
    ("POST", "/ask", {"json": {"question": "x", "top_k": 10**30}}, 422, "200"),
    ("POST", "/ask", {"json": {"question": "x", "top_k": -1}}, 422, "greater"),
    ("POST", "/ask", {"json": {"question": "x", "top_k": 2.5}}, 422, "integer"),
    ("POST", "/ask", {"json": {"question": "x", "top_k": "all"}}, 422, "integer"),
    ("POST", "/ask", {"json": {"question": "x", "top_k": 150}}, 422, "top_k"),
    ("POST", "/ask", {"json": {"question": "q" * 201}}, 422, "limit"),
    ("POST", "/ask", {"json": {"question": "x", "history": "not a list"}}, 422, "list"),
    ("POST", "/ask", {"json": {"question": "x", "history": [{"role": "system", "content": "x"}]}}, 422, "user"),
    ("POST", "/ask", {"json": {"question": "x", "history": [{"role": "user", "content": "x"}] * 41}}, 422, "40"),
    ("POST", "/ask", {"json": {"question": "x", "history": [{"role": "user", "content": "x" * 4001}]}}, 422, "4000"),
    ("POST", "/search", {"json": {"question": "x", "top_k": 0}}, 422, "greater"),
    ("POST", "/search", {"json": {"question": "x", "top_k": True}}, 422, "integer"),
    ("POST", "/ask/stream", {"json": {"question": ""}}, 422, "empty"),
    ("POST", "/ask/stream", {"json": {"question": "x", "top_k": "NaN"}}, 422, "integer"),
    # bad encodings and media types
    ("POST", "/ask", {"content": b'{"question": "\xff\xfe caf\xe9"}'}, 400, "parsing"),
    ("POST", "/search", {"content": b'{"question": "x"'}, 422, "JSON"),
    ("POST", "/ask", {"content": b""}, 422, "required"),
    ("POST", "/ask", {"content": b'{"question": NaN}'}, 422, "string"),
    (
        "POST",
        "/ask",
        {"content": "question=x", "headers": {"Content-Type": "application/x-www-form-urlencoded"}},
        422,
        "dictionary",
    ),
    ("POST", "/ask", {"content": '{"question": "x"}', "headers": {"Content-Type": "text/plain"}}, 422, "dictionary"),
    ("POST", "/v1/chat/completions", {"content": b"\x80\x81\x82"}, 400, "parsing"),
    # OpenAI-compatible route: huge or malformed conversations
    ("POST", "/v1/chat/completions", {"json": {**CHAT, "messages": CHAT["messages"] * 65}}, 400, "64"),
    (
        "POST",
        "/v1/chat/completions",
        {"json": {**CHAT, "messages": [{"role": "user", "content": "x" * 8001}]}},
        400,
        "8000",
    ),
    (
        "POST",
        "/v1/chat/completions",
        {"json": {**CHAT, "messages": [{"role": "assistant", "content": "hi"}]}},
        400,
        "user message",
    ),
    ("POST", "/v1/chat/completions", {"json": {**CHAT, "messages": []}}, 400, "at least 1"),
    ("POST", "/v1/chat/completions", {"json": {**CHAT, "messages": "hi"}}, 400, "list"),
    ("POST", "/v1/chat/completions", {"json": {**CHAT, "messages": [{"role": "root", "content": "x"}]}}, 400, "role"),
    (
        "POST",
        "/v1/chat/completions",
        {"json": {**CHAT, "messages": [{"role": "user", "content": [{"type": "text", "text": 5}]}]}},
        400,
        "string",
    ),
    ("POST", "/v1/chat/completions", {"json": {**CHAT, "model": "gpt-4"}}, 404, "does not exist"),
    ("POST", "/v1/chat/completions", {"json": {"messages": CHAT["messages"]}}, 400, "model"),
    (
        "POST",
        "/v1/chat/completions",
        {"json": {**CHAT, "messages": [{"role": "user", "content": "q" * 201}]}},
        400,
        "limit",
    ),
    ("GET", "/v1/models/gpt-4", {}, 404, "does not exist"),
    # header abuse
    ("POST", "/ask", {"json": ASK, "headers": {"Host": "evil.example"}}, 400, "not served here"),
    ("GET", "/health", {"headers": {"Host": "rebind.attacker.test:8000"}}, 400, "not served here"),
    ("POST", "/v1/chat/completions", {"json": CHAT, "headers": {"Host": "127.0.0.1.nip.io"}}, 400, "not served here"),
    ("POST", "/ask", {"json": {"question": "x", "top_k": 1}, "headers": {"X-Request-ID": b"\xff" * 300}}, 200, ""),
    # paths and methods
    ("GET", "/../etc/passwd", {}, 404, "Not Found"),
    ("GET", "/%2e%2e/%2e%2e/etc/passwd", {}, 404, "Not Found"),
    ("GET", "/static/../service/settings.py", {}, 404, "Not Found"),
    ("GET", "/widget.js/../../notes/", {}, 404, "Not Found"),
    ("GET", "/ask%00", {}, 404, "Not Found"),
    ("GET", "/ask", {}, 405, "Method Not Allowed"),
    ("PUT", "/search", {"json": ASK}, 405, "Method Not Allowed"),
    ("DELETE", "/v1/chat/completions", {}, 405, "Method Not Allowed"),
]


@pytest.mark.parametrize("method,path,kwargs,status,reason", HOSTILE, ids=[f"{c[0]} {c[1]} {i}" for i, c in enumerate(HOSTILE)])  # fmt: skip
def test_hostile_requests_get_a_clear_4xx(client, method, path, kwargs, status, reason) -> None:  # type: ignore[no-untyped-def]
    kwargs = dict(kwargs)
    headers = {**AUTH, **kwargs.pop("headers", {})}
    if "content" in kwargs and "Content-Type" not in headers:
        headers = {**headers, "Content-Type": "application/json"}
    r = client.request(method, path, headers=headers, **kwargs)
    assert r.status_code == status, r.text[:500]
    assert reason in r.text
    assert KEY not in r.text
    assert client.post("/ask", json=ASK, headers=AUTH).json()["answer"].startswith("Recall is TP/(TP+FN)")


def test_hostile_battery_is_large_enough() -> None:
    assert len(HOSTILE) + len(PROTECTED) * len(BAD_AUTH) >= 60


def test_the_openai_client_key_works_on_v1(client) -> None:  # type: ignore[no-untyped-def]
    r = client.post("/v1/chat/completions", json=CHAT, headers=AUTH)
    assert r.status_code == 200 and r.json()["choices"][0]["message"]["content"].startswith("Recall")


def test_keys_from_a_file_of_hashes(small_index, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from service.api.security import hash_key

    keys = tmp_path / "keys"
    keys.write_text(f"# team keys\n{hash_key('alpha-key')}\nplain-beta-key\n")
    store, embedder = small_index
    qa = Answerer(Retriever(store, embedder), ScriptedGenerator(REPLY), 3, ALWAYS_ANSWER)
    app = create_app(Settings(data_dir=tmp_path, api_keys_file=keys), answerer=qa)
    with TestClient(app, base_url="http://localhost") as c:
        assert c.post("/search", json=ASK).status_code == 401
        for key in ("alpha-key", "plain-beta-key"):
            assert c.post("/search", json=ASK, headers={"Authorization": f"Bearer {key}"}).status_code == 200
        assert c.post("/search", json=ASK, headers={"Authorization": "Bearer sha256:" + "0" * 64}).status_code == 401


def test_rate_limit_is_429_with_retry_after(small_index, tmp_path) -> None:  # type: ignore[no-untyped-def]
    app = make_app(small_index, tmp_path, rate_limit="3/minute")
    with TestClient(app, base_url="http://localhost") as c:
        codes = [c.post("/search", json=ASK, headers=AUTH).status_code for _ in range(3)]
        r = c.post("/search", json=ASK, headers=AUTH)
        assert codes == [200, 200, 200] and r.status_code == 429
        assert 1 <= int(r.headers["retry-after"]) <= 60 and "rate limit" in r.json()["detail"]
        assert c.get("/health").status_code == 200  # public paths are not counted
        r = c.post("/v1/chat/completions", json=CHAT, headers=AUTH)
        assert r.status_code == 429 and r.json()["error"]["code"] == "rate_limit_exceeded"


def test_cors_wildcard_is_refused_with_keys() -> None:
    with pytest.raises(ValueError, match="refused when API keys are set"):
        Settings(api_keys=[KEY], cors_origins=["*"])


def test_serving_beyond_loopback_needs_keys() -> None:
    from service.api.security import InsecureExposure, check_exposure

    with pytest.raises(InsecureExposure, match="without API keys"):
        check_exposure(Settings(host="0.0.0.0"))
    check_exposure(Settings(host="0.0.0.0", api_keys=[KEY]))
    check_exposure(Settings(host="0.0.0.0", insecure_no_auth=True))
    check_exposure(Settings(host="::1"))


def test_a_full_queue_is_503_with_retry_after_at_once(small_index, tmp_path) -> None:  # type: ignore[no-untyped-def]
    slow = ScriptedGenerator(" ".join(["word"] * 40), delay=0.05)  # ~2 s per answer
    app = make_app(small_index, tmp_path, slow, max_running_answers=1, max_waiting_answers=1)
    with serve_app(app, "/health") as base:
        results: list[httpx.Response] = []

        def ask() -> None:
            results.append(httpx.post(base + "/ask", json=ASK, headers=AUTH, timeout=30))

        first = [threading.Thread(target=ask) for _ in range(2)]
        for t in first:
            t.start()
            time.sleep(0.3)
        started = time.monotonic()
        refused = httpx.post(base + "/ask", json=ASK, headers=AUTH, timeout=30)
        took = time.monotonic() - started
        for t in first:
            t.join()
        assert refused.status_code == 503 and took < 1.0
        assert int(refused.headers["retry-after"]) >= 1 and "busy" in refused.json()["detail"]["reason"]
        assert [r.status_code for r in results] == [200, 200]
        r = httpx.post(base + "/v1/chat/completions", json=CHAT, headers=AUTH, timeout=30)
        assert r.status_code == 200


def test_the_deadline_is_a_504_with_the_sources(small_index, tmp_path) -> None:  # type: ignore[no-untyped-def]
    slow = ScriptedGenerator(" ".join(["word"] * 100), delay=0.05)
    app = make_app(small_index, tmp_path, slow, answer_timeout_s=0.5)
    with TestClient(app, base_url="http://localhost") as c:
        started = time.monotonic()
        r = c.post("/ask", json=ASK, headers=AUTH)
        assert r.status_code == 504 and time.monotonic() - started < 3
        detail = r.json()["detail"]
        assert "0.5 s deadline" in detail["reason"] and detail["sources"]
        events = c.post("/ask/stream", json=ASK, headers=AUTH).text
        assert "event: error" in events and "deadline" in events
        r = c.post("/v1/chat/completions", json=CHAT, headers=AUTH)
        assert r.status_code == 504 and r.json()["error"]["code"] == "timeout"
        wait_until(lambda: app.state.admission.running == 0, 2)  # the generator stops at its next piece


def test_a_client_that_disconnects_frees_the_slot(small_index, tmp_path) -> None:  # type: ignore[no-untyped-def]
    slow = ScriptedGenerator(" ".join(["word"] * 200), delay=0.05)  # 10 s if nobody stops it
    app = make_app(small_index, tmp_path, slow)
    with serve_app(app, "/health") as base:
        for path, body in (("/ask/stream", ASK), ("/v1/chat/completions", {**CHAT, "stream": True}), ("/ask", ASK)):
            slow.pieces_sent = 0
            if path == "/ask":
                with pytest.raises(httpx.ReadTimeout):
                    httpx.post(base + path, json=body, headers=AUTH, timeout=0.5)
            else:
                with httpx.stream("POST", base + path, json=body, headers=AUTH, timeout=30) as r:
                    lines = r.iter_lines()
                    assert any("word" in line for line in lines)  # generation under way; then we hang up
            wait_until(lambda: app.state.admission.running == 0, 3)
            sent = slow.pieces_sent
            time.sleep(0.3)
            assert slow.pieces_sent == sent < 100  # stopped, not still writing to nobody
        slow.delay = 0
        assert httpx.post(base + "/ask", json=ASK, headers=AUTH, timeout=30).status_code == 200


def wait_until(condition: Any, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.05)


def test_no_answer_reveals_server_paths(small_index, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from index.store import IndexStore
    from tests.fakes import HashEmbedder

    missing = tmp_path / "nowhere" / "index"
    qa = Answerer(Retriever(IndexStore(missing), HashEmbedder()), ScriptedGenerator(REPLY), 3, ALWAYS_ANSWER)
    app = create_app(Settings(data_dir=tmp_path, api_keys=[KEY]), answerer=qa)
    with TestClient(app, base_url="http://localhost") as c:
        for r in (c.get("/ready"), c.post("/ask", json=ASK, headers=AUTH), c.post("/search", json=ASK, headers=AUTH)):
            assert r.status_code == 503 and str(tmp_path) not in r.text
            assert "notes-qa ingest" in json.dumps(r.json())
        assert c.post("/ask", json=ASK, headers=AUTH).headers["retry-after"] == "5"


@pytest.mark.slow
def test_a_disconnect_stops_the_real_generator(settings: Any, answerer: Any) -> None:
    """The packaged model in its default runtime: a client that hangs up mid-answer frees the generator."""
    app = create_app(settings.model_copy(update={"rate_limit": ""}), answerer=answerer)
    question = {"question": "Explain the vanishing gradient problem"}
    with serve_app(app) as base:
        with httpx.stream("POST", base + "/ask/stream", json=question, timeout=120) as r:
            assert any(line == "event: token" for line in r.iter_lines())  # the model is writing; hang up
        hung_up = time.monotonic()
        wait_until(lambda: app.state.admission.running == 0, 5)
        assert not answerer.generator.busy
        assert time.monotonic() - hung_up < 5
        r = httpx.post(base + "/ask", json={"question": "What is the formula for precision?"}, timeout=120)
        assert r.status_code == 200 and "TP" in r.json()["answer"]


@pytest.mark.slow
def test_the_local_generator_killed_mid_stream(settings: Any, answerer: Any) -> None:
    """The generator's process dies while it writes: an error event with the sources, then it is started again."""
    app = create_app(settings.model_copy(update={"rate_limit": ""}), answerer=answerer)
    question = {"question": "Explain the vanishing gradient problem"}
    with serve_app(app) as base:
        events = []
        with httpx.stream("POST", base + "/ask/stream", json=question, timeout=120) as r:
            for line in r.iter_lines():
                events.append(line)
                if line == "event: token" and len(events) < 10:
                    answerer.generator._process._process.kill()  # the model process is killed mid-answer
        text = "\n".join(events)
        assert "event: error" in text and "the local generator stopped; retry" in text
        error = json.loads(events[events.index("event: error") + 1].removeprefix("data: "))
        assert error["sources"]
        r = httpx.post(base + "/ask", json={"question": "What is the formula for precision?"}, timeout=120)
        assert r.status_code == 200 and "TP" in r.json()["answer"]
