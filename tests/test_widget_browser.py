"""The chat widget's plumbing in headless Chromium, against the real HTTP app with fake models (fast).

The acceptance run with the real models is tests/test_widget_e2e.py.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from index.build import IngestConfig, run_ingest
from index.store import IndexStore
from service.api.app import create_app
from service.backends.settings import Settings
from service.pipeline.answering import Answerer
from service.pipeline.retriever import Retriever
from tests.fakes import ALWAYS_ANSWER, HashEmbedder, ScriptedGenerator, fixed_answerability
from tests.servers import ARTIFACTS, ask_widget, embed_page, new_page, serve_app, serve_folder

pytestmark = pytest.mark.browser
PLANTED = "<img src=x onerror=alert(1)>"
RECALL = "What is the formula for recall?"


@pytest.fixture
def index(tmp_path: Path, small_notes: Path) -> tuple[IndexStore, HashEmbedder]:
    (small_notes / "planted.md").write_text(
        f"# Rendering check\n\nThis note holds an image tag, {PLANTED}, that must show as text.\n", encoding="utf-8"
    )
    store, embedder = IndexStore(tmp_path / "index"), HashEmbedder()
    run_ingest(small_notes, store, embedder, IngestConfig())
    return store, embedder


def app_for(
    index: tuple[IndexStore, HashEmbedder], reply: str, delay: float = 0.0, answers: bool = True, **settings: Any
) -> FastAPI:
    store, embedder = index
    qa = Answerer(Retriever(store, embedder), ScriptedGenerator(reply, delay), 3, fixed_answerability(answers))
    return create_app(Settings(data_dir=store.root.parent, **settings), answerer=qa)


def generator_of(app: FastAPI) -> ScriptedGenerator:
    generator: ScriptedGenerator = app.state.answerer.generator
    return generator


def test_page_has_labelled_controls_and_answers_with_a_chip_that_opens_the_passage(index: Any, page: Any) -> None:
    with serve_app(app_for(index, "Recall is TP/(TP+FN) [2].")) as base:
        page.goto(base + "/")
        assert page.get_by_role("log").count() == 1
        assert page.get_by_role("button", name="Send").is_visible()
        bubble = ask_widget(page, RECALL)
        # the answer arrived and the focus is back in the input, ready for the next question
        assert page.get_by_label("Ask your notes").evaluate("e => e === e.getRootNode().activeElement")
        assert bubble.locator(".answer").inner_text().startswith("Recall is TP/(TP+FN)")
        chip = bubble.locator(".answer .chip")
        assert re.fullmatch(r"\[\d\]", chip.inner_text()) and chip.get_attribute("aria-expanded") == "false"
        # the cited lines are quoted under the answer, with where they come from
        quote = bubble.locator(".quotes .quote")
        assert quote.count() == 1 and "Recall = TP/(TP+FN)" in quote.inner_text()
        assert "metrics.md" in quote.locator(".where").inner_text()
        chip.click()
        passage = bubble.locator(".passage")
        assert "metrics.md" in passage.locator(".where").inner_text()
        assert "lines" in passage.locator(".where").inner_text()
        assert "Recall = TP/(TP+FN)" in passage.locator(".text").inner_text()
        # and highlighted inside the passage it comes from
        assert passage.locator("mark").inner_text().startswith("Recall = TP/(TP+FN)")
        assert chip.get_attribute("aria-expanded") == "true"
        chip.click()
        assert bubble.locator(".passage").count() == 0


def test_follow_up_sends_the_history_and_shows_the_rewritten_question(index: Any, page: Any) -> None:
    with serve_app(app_for(index, "Precision is TP/(TP+FP) [1].")) as base:
        page.goto(base + "/")
        ask_widget(page, RECALL)
        with page.expect_request("**/ask/stream") as request:
            bubble = ask_widget(page, "and for precision?")
        sent = json.loads(request.value.post_data)
        assert sent["question"] == "and for precision?"
        assert [t["role"] for t in sent["history"]] == ["user", "assistant"]
        assert sent["history"][0]["content"] == RECALL
        assert bubble.locator(".query").inner_text() == "Searched for: What is the formula for precision?"
        page.get_by_role("button", name="New chat").click()
        assert page.locator(".msg").count() == 0


def test_no_answer_state_offers_the_closest_passages(index: Any, page: Any) -> None:
    with serve_app(app_for(index, "I do not know.", answers=False)) as base:
        page.goto(base + "/")
        bubble = ask_widget(page, "What does MRKL stand for?")
        assert "no-answer" in (bubble.get_attribute("class") or "")
        assert bubble.locator("strong").inner_text() == "No answer found in your notes."
        related = bubble.locator("details.related")
        assert related.count() >= 1
        related.first.locator("summary").click()
        assert "Modular Reasoning" in related.first.locator(".passage .text").inner_text()


def test_note_and_answer_html_is_shown_as_text(index: Any, page: Any) -> None:
    with serve_app(app_for(index, f"The note holds an image tag, {PLANTED} [1].")) as base:
        page.goto(base + "/")
        bubble = ask_widget(page, "Which image tag does the rendering check note hold?")
        assert PLANTED in bubble.locator(".answer").inner_text()
        bubble.locator(".answer .chip").first.click()
        assert PLANTED in bubble.locator(".passage .text").inner_text()
        assert page.locator("img").count() == 0
        assert page.dialogs == []


def test_errors_are_readable_and_the_input_stays_usable(index: Any, page: Any) -> None:
    with serve_app(app_for(index, "Recall is TP/(TP+FN) [2].", max_question_chars=200)) as base:
        page.goto(base + "/")
        page.route(
            "**/ask/stream",
            lambda route: route.fulfill(
                status=503, content_type="application/json", body='{"detail":"index rebuilding"}'
            ),
        )
        bubble = ask_widget(page, RECALL)
        assert bubble.get_by_role("alert").inner_text() == (
            "The notes service had a problem (HTTP 503): index rebuilding. Try again in a moment."
        )
        page.unroute("**/ask/stream")
        bubble = ask_widget(page, "x" * 300)  # over this app's max_question_chars: a real 422 from the server
        assert (
            bubble.get_by_role("alert").inner_text().startswith("The question was not accepted (HTTP 422): question is")
        )
        page.route("**/ask/stream", lambda route: route.abort("connectionrefused"))
        bubble = ask_widget(page, RECALL)
        assert bubble.get_by_role("alert").inner_text().startswith("Could not reach the notes service at " + base)
        page.unroute("**/ask/stream")
        bubble = ask_widget(page, RECALL)
        assert bubble.locator(".answer .chip").count() == 1


def test_stop_cancels_a_streaming_answer(index: Any, page: Any) -> None:
    slow_reply = "Recall is TP/(TP+FN) " + "and more words " * 40 + "[2]."
    app = app_for(index, slow_reply, delay=0.2)
    with serve_app(app) as base:
        page.goto(base + "/")
        page.get_by_label("Ask your notes").fill(RECALL)
        page.get_by_role("button", name="Send").click()
        page.locator(".msg.bot[aria-busy] .draft:not(:empty)").wait_for(timeout=10_000)
        assert page.get_by_role("button", name="Send").is_disabled()
        page.get_by_role("button", name="Stop").click()
        bubble = page.locator(".msg.bot").last
        bubble.locator(".status", has_text="Stopped.").wait_for(timeout=5_000)
        assert bubble.locator(".chip").count() == 0
        assert page.get_by_role("button", name="Send").is_enabled()
        assert not page.get_by_role("button", name="Stop").is_visible()
        # the server stopped generating too: the rest of the 120-word reply is never produced
        page.wait_for_timeout(1500)
        sent = generator_of(app).pieces_sent
        page.wait_for_timeout(1000)
        assert generator_of(app).pieces_sent == sent < 60


def test_embed_at_phone_width_keyboard_only(index: Any, browser: Any, tmp_path: Path) -> None:
    site = tmp_path / "site"
    with (
        serve_folder(site) as origin,
        serve_app(app_for(index, "Recall is TP/(TP+FN) [2].", cors_origins=[origin])) as api,
    ):
        embed_page(site, api)
        page = new_page(browser, viewport={"width": 375, "height": 667}, is_mobile=True, has_touch=True)
        page.goto(origin + "/index.html")
        launcher = page.get_by_role("button", name="Ask your notes")
        launcher.focus()
        page.keyboard.press("Enter")
        assert launcher.get_attribute("aria-expanded") == "true"
        box = page.get_by_role("region", name="Notes Q&A chat").bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 375 and box["height"] <= 667
        page.keyboard.type(RECALL)  # the opened panel put the focus in the input
        page.keyboard.press("Enter")
        page.locator(".msg.bot:not([aria-busy]) .answer .chip").wait_for(timeout=30_000)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "widget-phone-width.png"))
        page.keyboard.press("Escape")
        assert launcher.get_attribute("aria-expanded") == "false"
        page.context.close()


def test_embed_from_an_origin_not_allowed_is_refused(index: Any, page: Any, tmp_path: Path) -> None:
    site = tmp_path / "site"
    with serve_folder(site) as origin, serve_app(app_for(index, "Recall is TP/(TP+FN) [2].")) as api:
        embed_page(site, api)
        page.goto(origin + "/index.html")
        page.get_by_role("button", name="Ask your notes").click()
        bubble = ask_widget(page, RECALL)
        message = bubble.get_by_role("alert").inner_text()
        assert message.startswith(f"Could not reach the notes service at {api}")
        assert re.search(r"allows this site's origin", message)


def test_generator_down_shows_the_reason_and_the_passages_found(index: Any, page: Any) -> None:
    from service.backends.components import build_answerer
    from tests.servers import free_port

    store, embedder = index
    settings = Settings(
        data_dir=store.root.parent,
        index_path=store.root,
        generator_backend="openai",
        openai_base_url=f"http://127.0.0.1:{free_port()}/v1",  # nothing listens there
    )
    app = create_app(settings, answerer=build_answerer(settings, embedder=embedder, answerability=ALWAYS_ANSWER))  # type: ignore[arg-type]
    with serve_app(app) as base:
        page.goto(base + "/")
        bubble = ask_widget(page, RECALL)
        assert (
            bubble.get_by_role("alert")
            .inner_text()
            .startswith("The notes service could not answer: cannot reach the inference server")
        )
        related = bubble.locator("details.related")
        assert related.count() >= 1
        for summary in related.locator("summary").all():
            summary.click()
        assert any("Recall = TP/(TP+FN)" in t for t in bubble.locator(".passage .text").all_inner_texts())
        assert page.get_by_role("button", name="Send").is_enabled()


def test_a_server_with_keys_asks_for_one_then_answers(index: Any, page: Any) -> None:
    with serve_app(app_for(index, "Recall is TP/(TP+FN) [2].", api_keys=["right-key"]), "/health") as base:
        page.goto(base + "/")
        bubble = ask_widget(page, RECALL)
        assert "needs an API key" in bubble.get_by_role("alert").inner_text()
        field = bubble.get_by_label("API key")
        field.fill("wrong-key")
        field.press("Enter")
        retry = page.locator(".msg.bot:not([aria-busy])").nth(1)
        retry.wait_for()
        assert "not accepted" in retry.get_by_role("alert").inner_text()
        retry.get_by_label("API key").fill("right-key")
        retry.get_by_role("button", name="Use key").click()
        answered = page.locator(".msg.bot:not([aria-busy])").nth(2)
        answered.wait_for()
        assert answered.locator(".answer").inner_text().startswith("Recall is TP/(TP+FN)")
        # the key is kept for this tab: the next question goes straight through
        assert ask_widget(page, RECALL).locator(".answer").inner_text().startswith("Recall is TP/(TP+FN)")


def test_an_embedding_page_can_hand_the_widget_its_key(index: Any, browser: Any, tmp_path: Path) -> None:
    with (
        serve_folder(tmp_path / "site") as site,
        serve_app(
            app_for(index, "Recall is TP/(TP+FN) [2].", api_keys=["embed-key"], cors_origins=[site]), "/health"
        ) as api,
    ):
        page_file = embed_page(tmp_path / "site", api)
        html = page_file.read_text().replace("data-endpoint=", 'data-api-key="embed-key" data-endpoint=')
        page_file.write_text(html)
        page = new_page(browser)
        page.goto(site + "/index.html")
        page.get_by_role("button", name="Ask your notes").click()
        bubble = ask_widget(page, RECALL)
        assert bubble.locator(".answer").inner_text().startswith("Recall is TP/(TP+FN)")
        page.context.close()


def test_embed_scope_chip_keeps_questions_in_scope_until_removed(
    index: Any, page: Any, browser: Any, tmp_path: Path
) -> None:
    site = tmp_path / "site"
    with (
        serve_folder(site) as origin,
        serve_app(app_for(index, "Recall is TP/(TP+FN) [1].", cors_origins=[origin])) as api,
    ):
        embed_page(site, api, scope="file:metrics.md")
        page.goto(origin + "/index.html")
        page.get_by_role("button", name="Ask your notes").click()
        assert page.locator(".scope-chip").inner_text().startswith("file metrics.md")
        with page.expect_request("**/ask/stream") as request:
            bubble = ask_widget(page, RECALL)
        assert json.loads(request.value.post_data)["scope"] == {"file": "metrics.md"}
        assert "metrics.md" in bubble.locator(".quotes .quote .where").first.inner_text()
        page.get_by_role("button", name="Remove the scope: ask all notes").click()
        assert page.locator(".scope-chip").count() == 0
        with page.expect_request("**/ask/stream") as request:
            ask_widget(page, RECALL)
        assert "scope" not in json.loads(request.value.post_data)

        embed_page(site / "empty", api, scope="#nosuch")  # a scope without notes says so
        other = new_page(browser)
        other.goto(origin + "/empty/index.html")
        other.get_by_role("button", name="Ask your notes").click()
        bubble = ask_widget(other, RECALL)
        assert "No notes match the scope (tag #nosuch)." in bubble.get_by_role("alert").inner_text()
        other.context.close()
