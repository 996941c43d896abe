"""The answering pipeline's plumbing (fake embedder and generator; the answerability model fixed or shipped)."""

from __future__ import annotations

import pytest

from service.pipeline.answerability import FEATURES
from service.pipeline.answering import Answer, Answerer, EvidenceFound, Token
from service.pipeline.prompting import NO_ANSWER, build_prompt, cited_numbers, is_refusal
from service.pipeline.retriever import Retriever
from tests.fakes import ALWAYS_ANSWER, NEVER_ANSWER, ScriptedGenerator


def answerer(small_index, reply: str, answers: bool = True) -> tuple[Answerer, ScriptedGenerator]:  # type: ignore[no-untyped-def]
    store, embedder = small_index
    generator = ScriptedGenerator(reply)
    model = ALWAYS_ANSWER if answers else NEVER_ANSWER
    return Answerer(Retriever(store, embedder), generator, top_k=3, answerability=model), generator


def test_a_supported_draft_is_the_answer_citing_the_unit_it_used(small_index) -> None:  # type: ignore[no-untyped-def]
    qa, generator = answerer(small_index, "Recall = TP/(TP+FN) [1].")
    answer = qa.answer("What is the formula for recall?")
    assert not answer.abstained and answer.kind == "generated"
    assert "Recall = TP/(TP+FN)" in generator.prompts[0].system  # the evidence goes to the model
    assert generator.prompts[0].user == "What is the formula for recall?"
    (citation,) = answer.citations
    assert "Recall = TP/(TP+FN)" in citation.evidence.unit.text
    assert answer.text.rstrip(".").endswith(f"[{citation.n}]")


def test_an_unsupported_draft_falls_back_to_quoting_the_best_evidence(small_index) -> None:  # type: ignore[no-untyped-def]
    # The model failed (it wrote about something else), not the notes: quote instead of abstaining.
    qa, _ = answerer(small_index, "Paris is the capital of France and hosts the Louvre museum [1].")
    answer = qa.answer("What is the formula for recall?")
    assert not answer.abstained and answer.kind == "quote"
    assert answer.text.startswith("“") and answer.text.endswith("[1]")
    assert answer.citations[0].evidence.n == 1
    assert answer.evidence[0].unit.text.split()[0] in answer.text


def test_a_refusal_with_strong_evidence_is_still_answered_by_a_quote(small_index) -> None:  # type: ignore[no-untyped-def]
    qa, _ = answerer(small_index, "no answer found")
    answer = qa.answer("What is the formula for recall?")
    assert answer.kind == "quote" and not answer.abstained and answer.draft_problem == "refused"


def test_the_answerability_model_decides_before_any_generation(small_index) -> None:  # type: ignore[no-untyped-def]
    qa, generator = answerer(small_index, "Recall = TP/(TP+FN) [1].", answers=False)
    events = list(qa.stream("What is the formula for recall?"))
    answer = events[-1]
    assert isinstance(answer, Answer) and answer.abstained and answer.text == NO_ANSWER
    assert answer.reason == "not_answerable" and answer.citations == () and answer.evidence  # evidence still shown
    assert answer.p_answerable is not None and answer.p_answerable < 0.5 and set(answer.signals) == set(FEATURES)
    assert generator.prompts == [] and answer.timings_ms["generate"] == 0.0
    assert [e.text for e in events if isinstance(e, Token)] == [NO_ANSWER]


def test_stream_sends_the_evidence_before_any_token(small_index) -> None:  # type: ignore[no-untyped-def]
    qa, _ = answerer(small_index, "Recall = TP/(TP+FN) [1].")
    events = list(qa.stream("What is the formula for recall?"))
    assert isinstance(events[0], EvidenceFound) and events[0].evidence
    assert all(isinstance(e, Token) for e in events[1:-1]) and isinstance(events[-1], Answer)
    assert events[-1].evidence == events[0].evidence


def test_decoding_stops_after_the_first_paragraph(small_index) -> None:  # type: ignore[no-untyped-def]
    qa, generator = answerer(small_index, "Recall = TP/(TP+FN) [1].\n\n[2] (Precision) Precision = TP/(TP+FP) and more")
    answer = qa.answer("What is the formula for recall?")
    assert generator.pieces_sent < len(generator.reply.split(" "))
    assert "Precision" not in answer.text


def test_the_shipped_model_is_used_when_none_is_stored(small_index) -> None:  # type: ignore[no-untyped-def]
    store, embedder = small_index
    qa = Answerer(Retriever(store, embedder), ScriptedGenerator("x"), top_k=3)
    assert qa.answerability_source.startswith("shipped default")
    store.set_models(NEVER_ANSWER.to_dict())
    assert qa.answerability_source.startswith("index") and qa.answerability == NEVER_ANSWER


def test_cited_numbers_parses_groups_and_ignores_out_of_range() -> None:
    assert cited_numbers("A [2] and B [1, 3] and C [2][9] [x]", n_units=3) == [2, 1, 3]
    assert cited_numbers("nothing cited", n_units=3) == []


def test_refusal_detection() -> None:
    assert is_refusal("no answer found", [])
    assert is_refusal("The notes do not mention beam search.", [])
    assert is_refusal("   ", [])
    assert not is_refusal("Recall = TP/(TP+FN) [1]", [1])
    assert not is_refusal("Dropout is not mentioned as a cure, but L2 is [2].", [2])


def test_prompt_numbers_the_evidence_with_its_heading(small_index) -> None:  # type: ignore[no-untyped-def]
    store, embedder = small_index
    qa = Answerer(Retriever(store, embedder), ScriptedGenerator("x"), top_k=3, answerability=ALWAYS_ANSWER)
    events = list(qa.stream("What is the formula for recall?"))
    assert isinstance(events[0], EvidenceFound)
    prompt = build_prompt("  What?  ", events[0].evidence)
    assert prompt.user == "What?"
    numbered = [line for line in prompt.system.splitlines() if line.startswith("[")]
    assert [line.split("]")[0] for line in numbered] == [f"[{n}" for n in range(1, len(numbered) + 1)]
    assert any(line.endswith("] Recall = TP/(TP+FN), the share of real positives that are found.") for line in numbered)
    # a unit's heading is shown beside it when the text does not already say it
    assert any("(What is BERT?) Bidirectional Encoder" in line for line in numbered)


def test_index_built_with_another_embedder_is_refused(small_index) -> None:  # type: ignore[no-untyped-def]
    from index.manifest import IndexMismatch
    from tests.fakes import HashEmbedder

    store, _ = small_index

    class OtherEmbedder(HashEmbedder):
        name = "another-model"

    with pytest.raises(IndexMismatch, match="re-run `notes-qa ingest`"):
        Retriever(store, OtherEmbedder()).retrieve("anything", 3)


def test_a_paragraph_that_introduces_a_formula_does_not_stop_decoding(small_index) -> None:  # type: ignore[no-untyped-def]
    qa, generator = answerer(small_index, "Recall is defined as follows:\n\nRecall = TP/(TP+FN) [1].")
    answer = qa.answer("What is the formula for recall?")
    assert generator.pieces_sent == len(generator.reply.split(" ")) and "TP/(TP+FN)" in answer.text
