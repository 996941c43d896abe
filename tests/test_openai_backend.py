"""The `openai` generator backend against an OpenAI-compatible server started on loopback by the test."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.api.app import create_app
from service.backends.components import build_answerer
from service.backends.settings import Settings
from tests.fake_openai import Script, fake_openai_app
from tests.fakes import ALWAYS_ANSWER
from tests.servers import free_port, serve_app

RECALL = {"question": "What is the formula for recall?"}


@pytest.fixture(scope="module")
def llm() -> Iterator[tuple[str, Script]]:
    script = Script()
    with serve_app(fake_openai_app(script), ready_path="/v1/models") as base:
        yield base, script


@pytest.fixture
def script(llm: tuple[str, Script]) -> Iterator[Script]:
    _, s = llm
    s.reply, s.delay_s, s.status, s.break_after = "Recall is TP/(TP+FN) [2].", 0.0, 200, None
    s.requests.clear()
    yield s


def client_for(small_index: Any, tmp_path: Any, base_url: str, **overrides: Any) -> TestClient:
    """notes-qa built by `build_answerer` from settings (the openai backend), over the small test index."""
    store, embedder = small_index
    settings = Settings(
        data_dir=tmp_path,
        index_path=store.root,
        generator_backend="openai",
        openai_base_url=base_url + "/v1",
        openai_model="fake-llm",
        **overrides,
    )
    return TestClient(
        base_url="http://localhost",
        app=create_app(settings, answerer=build_answerer(settings, embedder=embedder, answerability=ALWAYS_ANSWER)),
    )  # type: ignore[arg-type]


@pytest.mark.parametrize("stream", [True, False])
def test_answers_come_from_the_inference_server(small_index, tmp_path, llm, script, stream) -> None:  # type: ignore[no-untyped-def]
    with client_for(small_index, tmp_path, llm[0], openai_stream=stream) as client:
        body = client.post("/ask", json=RECALL).json()
        assert client.get("/ready").json()["generator"] == "fake-llm"
    assert body["answer"].startswith("Recall is TP/(TP+FN)") and body["abstained"] is False
    assert body["citations"][0]["quote"].startswith("Recall = TP/(TP+FN)")
    sent = script.requests[-1]
    assert sent["model"] == "fake-llm" and sent["temperature"] == 0 and bool(sent.get("stream")) is stream
    assert sent["messages"][0]["role"] == "system"
    assert "Recall = TP/(TP+FN)" in sent["messages"][0]["content"]  # the evidence goes with the instructions
    assert sent["messages"][1]["content"] == RECALL["question"]


def test_stream_route_relays_the_servers_tokens(small_index, tmp_path, llm, script) -> None:  # type: ignore[no-untyped-def]
    with client_for(small_index, tmp_path, llm[0]) as client, client.stream("POST", "/ask/stream", json=RECALL) as r:
        text = "".join(r.iter_text()).replace("\r\n", "\n")
    tokens = [json.loads(b.split("data: ")[1])["text"] for b in text.split("\n\n") if b.startswith("event: token")]
    assert len(tokens) >= 3 and "".join(tokens).strip() == "Recall is TP/(TP+FN) [2]."
    assert "event: answer" in text


def test_a_slow_server_is_a_503_with_the_reason_and_the_sources(small_index, tmp_path, llm, script) -> None:  # type: ignore[no-untyped-def]
    script.delay_s = 3.0
    with client_for(small_index, tmp_path, llm[0], openai_timeout_s=0.5) as client:
        started = time.monotonic()
        r = client.post("/ask", json=RECALL)
        took = time.monotonic() - started
        with client.stream("POST", "/ask/stream", json=RECALL) as s:
            streamed = "".join(s.iter_text()).replace("\r\n", "\n")
        v1 = client.post(
            "/v1/chat/completions",
            json={"model": "notes-qa", "messages": [{"role": "user", "content": "What is the formula for recall?"}]},
        )
        metrics = client.get("/metrics").text
    assert r.status_code == 503 and took < 2.5
    detail = r.json()["detail"]
    assert detail["reason"] == "the inference server did not answer within 0.5 s"  # its address stays in the log
    assert any("Recall = TP/(TP+FN)" in hit["text"] for hit in detail["sources"])
    error = json.loads(streamed.split("event: error\ndata: ")[1].split("\n")[0])
    assert "did not answer within 0.5 s" in error["detail"] and error["sources"]
    assert v1.status_code == 503
    assert v1.json()["error"]["type"] == "server_error" and "did not answer" in v1.json()["error"]["message"]
    assert "notes_qa_generator_failures_total 3.0" in metrics


def test_an_unreachable_server_is_a_503_with_the_reason(small_index, tmp_path) -> None:  # type: ignore[no-untyped-def]
    closed = f"http://127.0.0.1:{free_port()}"
    with client_for(small_index, tmp_path, closed, openai_timeout_s=2) as client:
        assert client.get("/ready").status_code == 200  # the server may come up later: readiness is ours
        r = client.post("/ask", json=RECALL)
    assert r.status_code == 503
    assert r.json()["detail"]["reason"] == "cannot reach the inference server"
    assert closed not in r.text


def test_a_server_error_is_a_503_with_its_message(small_index, tmp_path, llm, script) -> None:  # type: ignore[no-untyped-def]
    script.status = 500
    with client_for(small_index, tmp_path, llm[0]) as client:
        r = client.post("/ask", json=RECALL)
    assert r.status_code == 503
    assert r.json()["detail"]["reason"] == "the inference server answered HTTP 500"


def test_a_server_killed_mid_stream_is_an_error_with_the_sources(small_index, tmp_path, llm, script) -> None:  # type: ignore[no-untyped-def]
    script.reply, script.break_after = "Recall is the share of real positives found [2] and more words", 3
    with client_for(small_index, tmp_path, llm[0]) as client:
        r = client.post("/ask", json=RECALL)
        assert r.status_code == 503, r.text
        assert r.json()["detail"]["reason"] == "the inference server broke off its reply"
        assert r.json()["detail"]["sources"] and llm[0] not in r.text
        events = client.post("/ask/stream", json=RECALL).text
        assert "event: token" in events and "event: error" in events and "broke off" in events
        script.break_after = None
        assert client.post("/ask", json=RECALL).status_code == 200  # the server is back: so are answers
