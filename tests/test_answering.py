from __future__ import annotations

from index.search import Hit
from ingest.types import Chunk
from service.answering import Answer, Answerer, Token
from service.prompting import NO_ANSWER, build_prompt, cited_numbers, is_refusal
from service.retriever import Retriever
from tests.fakes import ScriptedGenerator


def answerer(small_index, reply: str, threshold: float) -> tuple[Answerer, ScriptedGenerator]:  # type: ignore[no-untyped-def]
    store, embedder = small_index
    generator = ScriptedGenerator(reply)
    return Answerer(
        Retriever(store, embedder), generator, top_k=3, threshold=threshold, default_threshold=0.0
    ), generator


def test_below_threshold_abstains_without_calling_the_generator(small_index) -> None:  # type: ignore[no-untyped-def]
    qa, generator = answerer(small_index, "Recall is TP/(TP+FN) [1]", threshold=0.99)
    answer = qa.answer("What is the formula for recall?")
    assert answer.abstained and answer.text == NO_ANSWER and answer.reason == "below_threshold"
    assert answer.citations == ()
    assert generator.prompts == []


def test_above_threshold_generates_and_keeps_only_cited_passages(small_index) -> None:  # type: ignore[no-untyped-def]
    qa, generator = answerer(small_index, "Recall is TP/(TP+FN) [2].", threshold=0.1)
    answer = qa.answer("What is the formula for recall?")
    assert not answer.abstained
    assert len(generator.prompts) == 1 and "Recall = TP/(TP+FN)" in generator.prompts[0].user
    assert len(answer.hits) == 3
    assert [c.n for c in answer.citations] == [2]
    assert answer.citations[0].hit == answer.hits[1]


def test_generator_refusal_is_an_abstention(small_index) -> None:  # type: ignore[no-untyped-def]
    qa, _ = answerer(small_index, "No answer found.", threshold=0.0)
    answer = qa.answer("What is the formula for recall?")
    assert answer.abstained and answer.text == NO_ANSWER and answer.reason == "generator_refused"


def test_answer_without_markers_is_attributed_to_the_passage_it_repeats(small_index) -> None:  # type: ignore[no-untyped-def]
    qa, _ = answerer(small_index, "It stands for Modular Reasoning, Knowledge and Language", threshold=0.0)
    answer = qa.answer("What does MRKL stand for?")
    assert len(answer.citations) == 1
    assert "Modular Reasoning" in answer.citations[0].hit.chunk.text
    assert answer.text.endswith(f"[{answer.citations[0].n}]")


def test_stream_yields_tokens_then_the_same_answer(small_index) -> None:  # type: ignore[no-untyped-def]
    qa, _ = answerer(small_index, "Recall is TP/(TP+FN) [2].", threshold=0.0)
    events = list(qa.stream("What is the formula for recall?"))
    assert all(isinstance(e, Token) for e in events[:-1]) and isinstance(events[-1], Answer)
    assert "".join(e.text for e in events[:-1]).strip() == events[-1].text


def test_cited_numbers_parses_groups_and_ignores_out_of_range() -> None:
    assert cited_numbers("A [2] and B [1, 3] and C [2][9] [x]", n_passages=3) == [2, 1, 3]
    assert cited_numbers("nothing cited", n_passages=3) == []


def test_refusal_detection() -> None:
    assert is_refusal("no answer found", [])
    assert is_refusal("The passages do not mention beam search.", [])
    assert is_refusal("   ", [])
    assert not is_refusal("Recall = TP/(TP+FN) [1]", [1])
    # A cited answer that merely contains "not mentioned" is still an answer.
    assert not is_refusal("Dropout is not mentioned as a cure, but L2 is [2].", [2])


def test_prompt_numbers_passages_with_their_heading_paths() -> None:
    hits = [Hit(Chunk("a.md", "H", 1, 2, "alpha"), 0.9, 1), Hit(Chunk("b.md", "", 3, 4, "beta"), 0.8, 2)]
    prompt = build_prompt("  What?  ", hits)
    assert "[1] H\nalpha" in prompt.user
    assert "[2] beta" in prompt.user
    assert prompt.user.rstrip().endswith(":")
    assert "Question: What?" in prompt.user
    assert "[1]" in prompt.system


def test_answer_about_a_term_the_notes_never_mention_is_ungrounded(small_index) -> None:  # type: ignore[no-untyped-def]
    # "zeppelin" occurs nowhere in the notes: an answer describing it cannot come from them, citation or not.
    qa, _ = answerer(small_index, "A zeppelin metric weighs recall by TP/(TP+FN) [1].", threshold=0.0)
    answer = qa.answer("What is the zeppelin metric?")
    assert answer.abstained and answer.reason == "ungrounded" and answer.text == NO_ANSWER


def test_answer_that_cites_nothing_and_matches_no_passage_is_ungrounded(small_index) -> None:  # type: ignore[no-untyped-def]
    qa, _ = answerer(small_index, "Paris is the capital of France", threshold=0.0)
    answer = qa.answer("What is the formula for recall?")
    assert answer.abstained and answer.reason == "ungrounded"


def test_index_built_with_another_embedder_is_refused(small_index) -> None:  # type: ignore[no-untyped-def]
    import pytest

    from index.manifest import IndexMismatch
    from tests.fakes import HashEmbedder

    store, _ = small_index

    class OtherEmbedder(HashEmbedder):
        name = "another-model"

    with pytest.raises(IndexMismatch, match="re-run `notes-qa ingest`"):
        Retriever(store, OtherEmbedder()).retrieve("anything", 3)


def test_word_support_ignores_citations_and_function_words() -> None:
    from service.prompting import word_support

    assert word_support("The formula for recall is TP/(TP+FN) [3]", "Recall = TP/(TP+FN)") == 0.75
    assert word_support("Paris is the capital of France", "Recall = TP/(TP+FN)") == 0.0


def test_final_answer_corrects_a_citation_to_the_passage_that_holds_the_words(small_index) -> None:  # type: ignore[no-untyped-def]
    qa, _ = answerer(small_index, "Recall is TP/(TP+FN) [1].", threshold=0.0)
    events = list(qa.stream("What is the formula for recall?"))
    final = events[-1]
    assert isinstance(final, Answer) and not final.abstained
    draft = "".join(e.text for e in events[:-1] if isinstance(e, Token))
    assert draft.strip().endswith("[1].")  # the draft as generated
    assert final.text == "Recall is TP/(TP+FN) [2]." and "Recall = TP/(TP+FN)" in final.citations[0].hit.chunk.text
