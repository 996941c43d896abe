"""HTTP side of the chat widget: the page and script, follow-up history, the no-answer passages, CORS."""

from __future__ import annotations

import json
import re

import pytest
from fastapi.testclient import TestClient

from service.api.app import create_app
from service.backends.settings import Settings
from service.pipeline.answering import Answerer
from service.pipeline.retriever import Retriever
from tests.fakes import ScriptedGenerator, fixed_answerability

ALLOWED = "http://127.0.0.1:9911"


def make_client(small_index, tmp_path, reply: str = "Precision is TP/(TP+FP) [1].", answers: bool = True, **kw):  # type: ignore[no-untyped-def]
    store, embedder = small_index
    generator = ScriptedGenerator(reply)
    qa = Answerer(Retriever(store, embedder), generator, 3, fixed_answerability(answers))
    return TestClient(
        base_url="http://localhost", app=create_app(Settings(data_dir=tmp_path, **kw), answerer=qa)
    ), generator


def test_chat_page_and_widget_script_are_served(small_index, tmp_path) -> None:  # type: ignore[no-untyped-def]
    client, _ = make_client(small_index, tmp_path)
    with client:
        page = client.get("/")
        script = client.get("/widget.js")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '<script src="/widget.js" data-mode="page"></script>' in page.text
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
    assert "Ask your notes" in script.text
    # text reaches the page through text nodes only: no HTML-parsing sink anywhere in the script
    assert not re.search(
        r"\.(innerHTML|outerHTML)\b|insertAdjacentHTML|document\.write|createContextualFragment", script.text
    )


def test_follow_up_is_rewritten_from_history_before_retrieval(small_index, tmp_path) -> None:  # type: ignore[no-untyped-def]
    client, generator = make_client(small_index, tmp_path)
    history = [
        {"role": "user", "content": "What is the formula for recall?"},
        {"role": "assistant", "content": "Recall = TP/(TP+FN) [1]"},
    ]
    with client:
        body = client.post("/ask", json={"question": "and for precision?", "history": history}).json()
        plain = client.post("/ask", json={"question": "and for precision?"}).json()
    assert body["query"] == "What is the formula for precision?"
    assert generator.prompts[0].user == "What is the formula for precision?"
    assert any(e["text"].startswith("Precision = TP/(TP+FP)") for e in body["evidence"])
    assert plain["query"] == "and for precision?"


def test_stream_carries_the_rewritten_query(small_index, tmp_path) -> None:  # type: ignore[no-untyped-def]
    client, _ = make_client(small_index, tmp_path)
    history = [{"role": "user", "content": "What does MRKL stand for?"}]
    with client, client.stream("POST", "/ask/stream", json={"question": "who uses it?", "history": history}) as r:
        text = "".join(r.iter_text())
    final = text.replace("\r\n", "\n").split("event: answer\ndata: ")[1].split("\n")[0]
    assert json.loads(final)["query"] == "Who uses MRKL?"


@pytest.mark.parametrize(
    ("history", "needle"),
    [
        ([{"role": "system", "content": "x"}], "'user' or 'assistant'"),
        ([{"role": "user"}], "Field required"),
        ([{"role": "user", "content": "x" * 4001}], "at most 4000 characters"),
        ([{"role": "user", "content": "q"}] * 41, "at most 40 items"),
        ("not a list", "valid list"),
    ],
)
def test_bad_history_is_a_422_with_a_reason(small_index, tmp_path, history, needle) -> None:  # type: ignore[no-untyped-def]
    client, _ = make_client(small_index, tmp_path)
    with client:
        r = client.post("/ask", json={"question": "and for precision?", "history": history})
    assert r.status_code == 422
    assert needle in json.dumps(r.json())


def test_no_answer_offers_the_closest_passages(small_index, tmp_path) -> None:  # type: ignore[no-untyped-def]
    client, generator = make_client(small_index, tmp_path, answers=False)
    with client:
        body = client.post("/ask", json={"question": "What does MRKL stand for?"}).json()
    assert body["abstained"] is True and body["answer"] == "no answer found"
    assert body["abstain_reason"] == "not_answerable" and body["citations"] == []
    assert 1 <= len(body["related"]) <= 3
    assert "Modular Reasoning" in body["related"][0]["text"]
    assert body["evidence"] and body["p_answerable"] < 0.5  # what was weighed, shown even when abstaining
    assert generator.prompts == []  # decided before generating


def test_answered_question_has_no_related_list(small_index, tmp_path) -> None:  # type: ignore[no-untyped-def]
    client, _ = make_client(small_index, tmp_path, reply="Recall is TP/(TP+FN) [2].")
    with client:
        body = client.post("/ask", json={"question": "What is the formula for recall?"}).json()
    assert body["abstained"] is False and body["related"] == [] and body["abstain_reason"] is None


def test_cors_is_closed_by_default(small_index, tmp_path) -> None:  # type: ignore[no-untyped-def]
    client, _ = make_client(small_index, tmp_path)
    with client:
        preflight = client.options(
            "/ask/stream",
            headers={
                "Origin": ALLOWED,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type",
            },
        )
        r = client.post("/ask", json={"question": "What is recall?"}, headers={"Origin": ALLOWED})
    assert preflight.status_code == 400 and "Disallowed CORS origin" in preflight.text
    assert "access-control-allow-origin" not in r.headers


def test_cors_allows_listed_origins_only(small_index, tmp_path) -> None:  # type: ignore[no-untyped-def]
    client, _ = make_client(small_index, tmp_path, cors_origins=[ALLOWED])
    headers = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}
    with client:
        ok = client.options("/ask/stream", headers={"Origin": ALLOWED, **headers})
        other = client.options("/ask/stream", headers={"Origin": "http://127.0.0.1:9912", **headers})
        r = client.post("/ask", json={"question": "What is recall?"}, headers={"Origin": ALLOWED})
    assert ok.status_code == 200 and ok.headers["access-control-allow-origin"] == ALLOWED
    assert other.status_code == 400
    assert r.headers["access-control-allow-origin"] == ALLOWED


@pytest.mark.parametrize("value", ["localhost:3000", "http://host/path", "ftp://host"])
def test_cors_setting_rejects_non_origins(value: str) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="is not an origin"):
        Settings(cors_origins=[value])


def test_cors_setting_reads_a_comma_separated_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTES_QA_CORS_ORIGINS", "http://a.example:8080, https://b.example/")
    assert Settings().cors_origins == ["http://a.example:8080", "https://b.example"]
