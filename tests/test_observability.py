"""/metrics in Prometheus text format, request ids echoed in a header, JSON log lines carrying them."""

from __future__ import annotations

import io
import json
import logging

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from service.api.app import create_app
from service.api.observability import JsonFormatter, configure_logging
from service.backends.settings import Settings
from service.pipeline.answering import Answerer
from service.pipeline.retriever import Retriever
from tests.fakes import ScriptedGenerator, fixed_answerability


def make_client(small_index, tmp_path, answers: bool = True) -> TestClient:  # type: ignore[no-untyped-def]
    store, embedder = small_index
    qa = Answerer(
        Retriever(store, embedder), ScriptedGenerator("Recall is TP/(TP+FN) [2]."), 3, fixed_answerability(answers)
    )
    return TestClient(base_url="http://localhost", app=create_app(Settings(data_dir=tmp_path), answerer=qa))


def samples(text: str) -> dict[str, list]:
    out: dict[str, list] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out.setdefault(sample.name, []).append(sample)
    return out


def test_metrics_parse_and_show_the_series_after_a_few_requests(small_index, tmp_path) -> None:  # type: ignore[no-untyped-def]
    with make_client(small_index, tmp_path) as client:
        for _ in range(2):
            assert client.post("/ask", json={"question": "What is the formula for recall?"}).status_code == 200
        client.post("/search", json={"question": "recall"})
        client.post("/ask", json={"question": ""})  # a 422
        version = client.get("/ready").json()["index_version"]
        text = client.get("/metrics").text
    s = samples(text)
    requests = {
        (x.labels["route"], x.labels["method"], x.labels["status"]): x.value for x in s["notes_qa_http_requests_total"]
    }
    assert requests[("/ask", "POST", "200")] == 2 and requests[("/ask", "POST", "422")] == 1
    assert requests[("/search", "POST", "200")] == 1
    count = {x.labels["route"]: x.value for x in s["notes_qa_http_request_duration_seconds_count"]}
    assert count["/ask"] == 3
    assert [x.value for x in s["notes_qa_retrieval_seconds_count"]] == [2]
    assert [x.value for x in s["notes_qa_generation_seconds_count"]] == [2]
    assert {x.labels["outcome"]: x.value for x in s["notes_qa_answers_total"]} == {"answered": 2}
    assert [(x.labels["version"], x.value) for x in s["notes_qa_index_version_info"]] == [(version, 1)]
    assert s["notes_qa_index_chunks"][0].value > 0
    assert s["notes_qa_model_load_seconds"][0].value >= 0


def test_abstentions_are_counted_by_reason(small_index, tmp_path) -> None:  # type: ignore[no-untyped-def]
    with make_client(small_index, tmp_path, answers=False) as client:
        client.post("/ask", json={"question": "What is the formula for recall?"})
        text = client.get("/metrics").text
    s = samples(text)
    assert {x.labels["reason"]: x.value for x in s["notes_qa_abstentions_total"]} == {"not_answerable": 1}


def test_request_id_is_echoed_or_made(small_index, tmp_path) -> None:  # type: ignore[no-untyped-def]
    with make_client(small_index, tmp_path) as client:
        mine = client.get("/health", headers={"X-Request-ID": "abc-123"})
        made = client.get("/health")
        junk = client.get("/health", headers={"X-Request-ID": "bad id\twith spaces"})
    assert mine.headers["x-request-id"] == "abc-123"
    assert len(made.headers["x-request-id"]) == 32
    assert junk.headers["x-request-id"] != "bad id\twith spaces"


def test_log_lines_are_json_with_the_request_id(small_index, tmp_path) -> None:  # type: ignore[no-untyped-def]
    configure_logging("json", "INFO")
    stream = io.StringIO()
    root = logging.getLogger()
    root.handlers[0].setStream(stream)  # type: ignore[attr-defined]
    try:
        with make_client(small_index, tmp_path) as client:
            client.post(
                "/ask", json={"question": "What is the formula for recall?"}, headers={"X-Request-ID": "req-42"}
            )
    finally:
        root.handlers = []
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    access = [line for line in lines if line["logger"] == "notes_qa.access"]
    assert any(
        line["request_id"] == "req-42"
        and line["route"] == "/ask"
        and line["status"] == 200
        and line["duration_ms"] >= 0
        for line in access
    ), access
    assert all({"ts", "level", "msg", "request_id"} <= set(line) for line in lines)


def test_json_formatter_includes_exceptions() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed: %s", ("it",), exc_info=True)
        import sys

        record.exc_info = sys.exc_info()
    line = json.loads(JsonFormatter().format(record))
    assert line["msg"] == "failed: it" and "ValueError: boom" in line["exc"] and line["request_id"] == "-"
