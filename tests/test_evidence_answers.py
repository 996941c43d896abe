"""The issue's questions, with the real models: answered with quotes, or an honest "no answer found"."""

from __future__ import annotations

import re

import pytest

from service.backends.components import build_answerer
from service.backends.settings import Settings
from service.pipeline.answering import Answer, Answerer
from tests.conftest import NOTES

pytestmark = pytest.mark.slow
AI_MD = {"000_a9eb03580335b364.txt", "001_70b2e4ff8e12de51.txt"}  # two renderings of AI.md
FLASHCARDS = "003_c6ad725f09b021ab.txt"


def cited_files(answer: Answer) -> set[str]:
    return {c.evidence.unit.file for c in answer.citations}


def test_rlhf_is_answered_from_the_flashcard(answerer: Answerer) -> None:
    answer = answerer.answer("What is RLHF?")
    assert not answer.abstained and cited_files(answer) == {FLASHCARDS}
    assert "human" in answer.text.lower()
    quote = answer.citations[0].evidence.unit
    lines = (NOTES / quote.file).read_text(encoding="utf-8").split("\n")
    assert quote.text in "\n".join(lines[quote.start_line - 1 : quote.end_line])  # the exact lines


def test_vanishing_gradient_is_explained_with_a_quote_not_refused(answerer: Answerer) -> None:
    answer = answerer.answer("Explain the vanishing gradient problem")
    assert not answer.abstained and cited_files(answer) & AI_MD
    assert "vanishing" in " ".join(c.evidence.unit.display() for c in answer.citations).lower()


def test_recall_is_computed_from_the_formula_the_notes_give(answerer: Answerer) -> None:
    answer = answerer.answer("How do I compute recall?")
    assert not answer.abstained and "TP/(TP+FN)" in re.sub(r"\s+", "", answer.text)
    assert any("Recall = TP/(TP+FN)" in c.evidence.unit.text for c in answer.citations)


@pytest.mark.parametrize(
    "question",
    ["What is RLHF?", "How do I compute recall?", "What is the formula for precision?",
     "Explain the vanishing gradient problem"],
)  # fmt: skip
def test_no_answer_ends_on_a_dangling_lead_in(answerer: Answerer, question: str) -> None:
    answer = answerer.answer(question)
    body = re.sub(r"\[\d+(,\s*\d+)*\]", "", answer.text).strip().strip("“”").strip()
    assert not answer.abstained and not body.endswith((":", ": 1.", "1."))


def test_precision_formula_is_right_and_cited(answerer: Answerer) -> None:
    answer = answerer.answer("What is the formula for precision?")
    assert not answer.abstained and "TP/(TP+FP)" in re.sub(r"\s+", "", answer.text)
    assert any("Precision = TP/(TP+FP)" in c.evidence.unit.text for c in answer.citations)


@pytest.mark.parametrize("question", ["Who won the 2022 football world cup?", "How does beam search decoding work?"])
def test_questions_the_notes_do_not_cover_get_no_answer(answerer: Answerer, question: str) -> None:
    answer = answerer.answer(question)
    assert answer.abstained and answer.text == "no answer found" and answer.citations == ()
    assert answer.p_answerable is not None and answer.p_answerable < 0.5


def test_onnx_and_transformers_backends_cite_the_same_evidence_for_a_formula(
    answerer: Answerer, settings: Settings
) -> None:
    torch_qa = build_answerer(
        settings.model_copy(update={"generator_backend": "transformers"}), answerer.retriever.embedder
    )
    torch_qa.warm_up()
    question = "What is the formula for recall?"
    onnx, torch = answerer.answer(question), torch_qa.answer(question)
    for answer in (onnx, torch):
        assert not answer.abstained and "TP/(TP+FN)" in re.sub(r"\s+", "", answer.text)
    spans = [{(c.evidence.unit.file, c.evidence.unit.start_line) for c in a.citations} for a in (onnx, torch)]
    assert spans[0] == spans[1]
    assert onnx.evidence == torch.evidence  # same retrieval and selection: only the generator differs


@pytest.mark.parametrize("question", ["What is RLHF?", "Wie berechnet man  den F1-Score? {{ x }} {% raw %} “quotes”"])
def test_onnx_prompt_text_is_the_transformers_chat_template(
    answerer: Answerer, settings: Settings, question: str
) -> None:
    """The onnx child renders the chat template without transformers (seconds off every start): same text."""
    import onnxruntime_genai as og
    from transformers import AutoTokenizer

    from service.backends.onnx_generator import onnx_model_dir
    from service.backends.onnx_process import chat_text
    from service.backends.packaged_models import packaged_gguf
    from service.pipeline.prompting import build_prompt

    model_dir = onnx_model_dir(packaged_gguf(settings.generator_model), settings.model_cache_dir)
    prompt = build_prompt(question, answerer.gather(question).evidence)
    messages = [{"role": "system", "content": prompt.system}, {"role": "user", "content": prompt.user}]
    expected = AutoTokenizer.from_pretrained(str(model_dir)).apply_chat_template(
        messages, tokenize=False, add_generation_prompt=True
    )
    assert chat_text(og.Tokenizer(og.Model(str(model_dir))), prompt.system, prompt.user) == expected
