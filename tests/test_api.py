from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from service.api.app import create_app
from service.backends.settings import Settings
from service.pipeline.answering import Answerer
from service.pipeline.retriever import Retriever
from tests.fakes import ALWAYS_ANSWER, ScriptedGenerator


@pytest.fixture
def client(small_index, tmp_path):  # type: ignore[no-untyped-def]
    store, embedder = small_index
    settings = Settings(data_dir=tmp_path, max_question_chars=200, max_top_k=10)
    qa = Answerer(Retriever(store, embedder), ScriptedGenerator("Recall is TP/(TP+FN) [2]."), 3, ALWAYS_ANSWER)
    with TestClient(base_url="http://localhost", app=create_app(settings, answerer=qa)) as c:
        yield c


def test_health_and_ready(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok"}
    ready = client.get("/ready").json()
    assert ready["ready"] is True and ready["chunks"] > 0 and ready["index_version"]


def test_ask_returns_answer_and_only_cited_passages(client: TestClient) -> None:
    r = client.post("/ask", json={"question": "What is the formula for recall?"})
    assert r.status_code == 200
    body = r.json()
    assert body["abstained"] is False
    assert body["answer"].startswith("Recall is TP/(TP+FN)")
    (cite,) = body["citations"]
    assert body["answer"].endswith(f"[{cite['n']}]")
    assert cite["quote"].startswith("Recall = TP/(TP+FN)") and cite["quote"] in cite["text"]
    assert set(cite) == {
        "n",
        "file",
        "heading",
        "lines",
        "score",
        "text",
        "quote",
        "quote_lines",
        "uri",
        "obsidian_uri",
    }
    assert cite["lines"][0] <= cite["quote_lines"][0] <= cite["quote_lines"][1] <= cite["lines"][1]
    assert body["kind"] == "generated" and 0.5 <= body["p_answerable"] <= 1.0
    assert [e["n"] for e in body["evidence"]] == list(range(1, len(body["evidence"]) + 1))
    assert set(body["evidence"][0]) == {"n", "text", "file", "heading", "lines", "score"}
    assert cite["quote"] == body["evidence"][cite["n"] - 1]["text"]
    assert set(body["timings_ms"]) >= {"retrieve", "generate", "total"}


def test_search_ranks_passages(client: TestClient) -> None:
    body = client.post("/search", json={"question": "MRKL stand for", "top_k": 2}).json()
    assert [h["rank"] for h in body["hits"]] == [1, 2]
    assert "Modular Reasoning" in body["hits"][0]["text"]


def test_stream_sends_tokens_then_final_answer(client: TestClient) -> None:
    with client.stream("POST", "/ask/stream", json={"question": "What is the formula for recall?"}) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        text = "".join(r.iter_text())
    events = [block for block in text.replace("\r\n", "\n").split("\n\n") if block.strip()]
    kinds = [next(line[7:] for line in e.split("\n") if line.startswith("event: ")) for e in events]
    assert kinds[0] == "evidence" and kinds[-1] == "answer" and set(kinds[1:-1]) == {"token"}
    first = json.loads(next(line[6:] for line in events[0].split("\n") if line.startswith("data: ")))
    final = json.loads(next(line[6:] for line in events[-1].split("\n") if line.startswith("data: ")))
    assert first["evidence"] == final["evidence"] and first["evidence"]
    assert final["answer"].startswith("Recall") and final["citations"][0]["quote"].startswith("Recall =")


@pytest.mark.parametrize(
    ("payload", "needle"),
    [
        ({"question": ""}, "must not be empty"),
        ({"question": "   \n\t "}, "must not be empty"),
        ({}, "Field required"),
        ({"question": 42}, "string"),
        ({"question": "ok?", "top_k": 0}, "greater than or equal to 1"),
        ({"question": "ok?", "top_k": "many"}, "integer"),
        ({"question": "ok?", "top_k": 11}, "top_k must be between 1 and 10"),
        ({"question": "x" * 201}, "limit is 200"),
    ],
)
@pytest.mark.parametrize("route", ["/ask", "/search", "/ask/stream"])
def test_bad_input_is_a_422_with_a_reason(client: TestClient, route: str, payload: dict, needle: str) -> None:
    r = client.post(route, json=payload)
    assert r.status_code == 422
    assert needle in json.dumps(r.json())


def test_malformed_json_is_a_4xx_with_a_reason(client: TestClient) -> None:
    r = client.post("/ask", content=b'{"question": "unterminated', headers={"content-type": "application/json"})
    assert r.status_code == 422
    assert "JSON decode error" in r.text


def test_not_ready_is_503_not_500(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from index.store import IndexStore
    from tests.fakes import HashEmbedder

    empty = Answerer(Retriever(IndexStore(tmp_path / "none"), HashEmbedder()), ScriptedGenerator("x"), 3, ALWAYS_ANSWER)
    with TestClient(base_url="http://localhost", app=create_app(Settings(data_dir=tmp_path), answerer=empty)) as c:
        r = c.get("/ready")
        assert r.status_code == 503 and "notes-qa ingest" in r.text
        r = c.post("/ask", json={"question": "anything?"})
        assert r.status_code == 503


def test_openapi_docs_are_served(client: TestClient) -> None:
    assert client.get("/docs").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/ask", "/ask/stream", "/search", "/health", "/ready"} <= set(paths)


def test_a_process_started_before_the_first_ingest_becomes_ready_by_itself(tmp_path, small_notes, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from index.build import IngestConfig, run_ingest
    from index.store import IndexStore
    from tests.fakes import HashEmbedder

    monkeypatch.setattr("service.api.readiness.RETRY_S", 0.0)
    store, embedder = IndexStore(tmp_path / "index"), HashEmbedder()
    qa = Answerer(Retriever(store, embedder), ScriptedGenerator("Recall is TP/(TP+FN) [1]."), 3, ALWAYS_ANSWER)
    with TestClient(base_url="http://localhost", app=create_app(Settings(data_dir=tmp_path), answerer=qa)) as c:
        r = c.get("/ready")
        assert r.status_code == 503 and "notes-qa ingest" in r.text
        assert c.post("/ask", json={"question": "What is recall?"}).status_code == 503
        run_ingest(small_notes, store, embedder, IngestConfig())  # e.g. the compose `ingest` job finishing late
        assert c.get("/ready").status_code == 200
        assert c.post("/ask", json={"question": "What is the formula for recall?"}).status_code == 200
