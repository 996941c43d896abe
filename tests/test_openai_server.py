"""notes-qa as an OpenAI-compatible model, driven by the official `openai` client over real HTTP.

Plumbing with fake models here; the acceptance run with the real models is `test_openai_server_real_models`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import openai
import pytest

from service.api.app import create_app
from service.backends.settings import Settings
from service.pipeline.answering import Answerer
from service.pipeline.retriever import Retriever
from tests.fakes import ScriptedGenerator, fixed_answerability
from tests.servers import serve_app

RECALL = [{"role": "user", "content": "What is the formula for recall?"}]


def serve(small_index: Any, tmp_path: Any, reply: str, answers: bool = True) -> Any:
    store, embedder = small_index
    qa = Answerer(Retriever(store, embedder), ScriptedGenerator(reply), 3, fixed_answerability(answers))
    return serve_app(create_app(Settings(data_dir=tmp_path, max_question_chars=200), answerer=qa))


@pytest.fixture
def client(small_index: Any, tmp_path: Any) -> Iterator[openai.OpenAI]:
    with serve(small_index, tmp_path, "Recall is TP/(TP+FN) [2].") as base:
        yield openai.OpenAI(base_url=base + "/v1", api_key="unused", max_retries=0, timeout=30)


def test_models_lists_notes_qa(client: openai.OpenAI) -> None:
    assert [m.id for m in client.models.list()] == ["notes-qa"]
    assert client.models.retrieve("notes-qa").owned_by == "notes-qa"


def test_completion_carries_the_answer_and_its_passages(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(model="notes-qa", messages=RECALL)  # type: ignore[arg-type]
    assert completion.object == "chat.completion" and completion.choices[0].finish_reason == "stop"
    extra = completion.model_extra or {}
    (cite,) = extra["citations"]
    assert completion.choices[0].message.content == f"Recall is TP/(TP+FN). [{cite['n']}]"
    assert cite["quote"].startswith("Recall = TP/(TP+FN)") and cite["file"] == "metrics.md"
    assert extra["evidence"][cite["n"] - 1]["text"] == cite["quote"]
    assert extra["notes_qa"]["abstained"] is False


def test_streamed_completion_is_the_same_answer(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(model="notes-qa", messages=RECALL, stream=True)  # type: ignore[arg-type]
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    (cite,) = (chunks[-1].model_extra or {})["citations"]
    assert text.startswith("Recall is TP/(TP+FN) [2].")  # the draft as written, then any correction
    assert len(chunks) >= 4 and chunks[-1].choices[0].finish_reason == "stop"
    assert cite["quote"].startswith("Recall = TP/(TP+FN)")


def test_history_makes_a_follow_up_self_contained(client: openai.OpenAI) -> None:
    messages = [
        {"role": "system", "content": "Be brief."},
        *RECALL,
        {"role": "assistant", "content": "Recall = TP/(TP+FN) [1]"},
        {"role": "user", "content": "and for precision?"},
    ]
    completion = client.chat.completions.create(model="notes-qa", messages=messages)  # type: ignore[arg-type]
    assert (completion.model_extra or {})["notes_qa"]["query"] == "What is the formula for precision?"


def test_out_of_scope_is_no_answer_found(small_index: Any, tmp_path: Any) -> None:
    with serve(small_index, tmp_path, "never used", answers=False) as base:
        client = openai.OpenAI(base_url=base + "/v1", api_key="unused", max_retries=0)
        completion = client.chat.completions.create(model="notes-qa", messages=RECALL)  # type: ignore[arg-type]
        streamed = client.chat.completions.create(model="notes-qa", messages=RECALL, stream=True)  # type: ignore[arg-type]
        text = "".join(c.choices[0].delta.content or "" for c in streamed)
    assert completion.choices[0].message.content == "no answer found"
    assert (completion.model_extra or {})["notes_qa"]["abstain_reason"] == "not_answerable"
    assert text == "no answer found"  # decided before generating: no draft was streamed


def test_an_ungrounded_streamed_draft_ends_with_a_correction(small_index: Any, tmp_path: Any) -> None:
    with serve(small_index, tmp_path, "Gradient checkpointing recomputes activations in 1000 batches.") as base:
        client = openai.OpenAI(base_url=base + "/v1", api_key="unused", max_retries=0)
        chunks = list(client.chat.completions.create(model="notes-qa", messages=RECALL, stream=True))  # type: ignore[arg-type]
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    # the model failed, the notes did not: the correction quotes the best evidence
    assert "(notes-qa: this draft is not supported by your notes; they say: “" in text
    assert (chunks[-1].model_extra or {})["notes_qa"]["kind"] == "quote"


@pytest.mark.parametrize(
    ("kwargs", "error", "needle"),
    [
        ({"model": "gpt-4o", "messages": RECALL}, openai.NotFoundError, "model_not_found"),
        ({"model": "notes-qa", "messages": []}, openai.BadRequestError, "messages"),
        (
            {"model": "notes-qa", "messages": [{"role": "assistant", "content": "hi"}]},
            openai.BadRequestError,
            "last message",
        ),
        (
            {"model": "notes-qa", "messages": [{"role": "user", "content": "x" * 201}]},
            openai.BadRequestError,
            "limit is 200",
        ),
        ({"model": "notes-qa", "messages": [{"role": "wizard", "content": "hi"}]}, openai.BadRequestError, "role"),
    ],
)
def test_errors_use_the_openai_shape(client: openai.OpenAI, kwargs: dict, error: type, needle: str) -> None:
    with pytest.raises(error) as caught:
        client.chat.completions.create(**kwargs)
    body = caught.value.body  # type: ignore[attr-defined]
    assert set(body) >= {"message", "type", "param", "code"}
    assert needle in str(body)
