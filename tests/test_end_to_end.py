"""End to end with the real embedder (all-MiniLM-L6-v2) and the real generator (Qwen2.5-Coder-0.5B-Instruct, int4 in
onnxruntime-genai: the default backend)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from service.api.app import create_app
from service.backends.components import build_embedder
from service.backends.settings import Settings
from service.pipeline.answering import Answerer
from tests.conftest import REPO

pytestmark = pytest.mark.slow
AI_MD = {"000_a9eb03580335b364.txt", "001_70b2e4ff8e12de51.txt"}  # two renderings of AI.md
FLASHCARDS = "003_c6ad725f09b021ab.txt"


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def test_real_embedder_gives_unit_384d_vectors_that_rank_by_meaning(settings: Settings) -> None:
    embedder = build_embedder(settings)
    v = embedder.embed(["How do I avoid overfitting?", "Regularization reduces overfitting.", "Paris is in France."])
    assert v.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, rtol=1e-5)
    assert v[0] @ v[1] > v[0] @ v[2] + 0.2


def test_recall_formula_is_answered_from_the_ai_notes(answerer: Answerer) -> None:
    answer = answerer.answer("What is the formula for recall?")
    assert not answer.abstained
    assert "TP/(TP+FN)" in squash(answer.text)
    assert answer.citations and {c.evidence.unit.file for c in answer.citations} & AI_MD
    assert any("Recall = TP/(TP+FN)" in c.evidence.unit.text for c in answer.citations)


def test_topic_absent_from_notes_gets_no_answer(answerer: Answerer) -> None:
    answer = answerer.answer("Who won the 2022 football world cup?")
    assert answer.abstained
    assert answer.text == "no answer found" and answer.citations == ()


def test_http_ask_mrkl_cites_the_flashcards(answerer: Answerer, settings: Settings) -> None:
    with TestClient(base_url="http://localhost", app=create_app(settings, answerer=answerer)) as client:
        r = client.post("/ask", json={"question": "what does MRKL stand for?"})
    assert r.status_code == 200
    body = r.json()
    assert "Modular Reasoning, Knowledge and Language" in body["answer"]
    assert FLASHCARDS in {c["file"] for c in body["citations"]}


def test_cli_reports_user_errors_in_one_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "service.api.cli", "ingest", str(tmp_path / "missing")],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [f"error: notes folder not found: {tmp_path / 'missing'}"]
    bad = subprocess.run(
        [sys.executable, "-m", "service.api.cli", "ask", "   "], capture_output=True, text=True, cwd=REPO, timeout=120
    )
    assert bad.returncode == 2 and bad.stderr.strip() == "error: the question is empty"


def test_openai_client_gets_grounded_answers_from_notes_qa(answerer: Answerer, settings: Settings) -> None:
    """Issue 5's acceptance: the official `openai` package as the client of a running notes-qa."""
    import openai

    from tests.servers import serve_app

    question = [{"role": "user", "content": "What is the formula for recall?"}]
    with serve_app(create_app(settings, answerer=answerer)) as base:
        client = openai.OpenAI(base_url=f"{base}/v1", api_key="unused", max_retries=0, timeout=300)
        completion = client.chat.completions.create(model="notes-qa", messages=question)  # type: ignore[arg-type]
        chunks = list(client.chat.completions.create(model="notes-qa", messages=question, stream=True))  # type: ignore[arg-type]
        out_of_scope = client.chat.completions.create(
            model="notes-qa",
            messages=[{"role": "user", "content": "Who won the 2022 football world cup?"}],  # type: ignore[list-item]
        )
    text = completion.choices[0].message.content or ""
    assert "TP/(TP+FN)" in squash(text) and re.search(r"\[\d\]", text)
    citations = (completion.model_extra or {})["citations"]
    assert citations and any("Recall = TP/(TP+FN)" in c["text"] for c in citations)
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert "TP/(TP+FN)" in squash(streamed) and re.search(r"\[\d\]", streamed)
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert any("Recall = TP/(TP+FN)" in c["text"] for c in (chunks[-1].model_extra or {})["citations"])
    assert out_of_scope.choices[0].message.content == "no answer found"
    assert (out_of_scope.model_extra or {})["notes_qa"]["abstained"] is True
