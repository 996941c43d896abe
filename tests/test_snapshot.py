"""One index snapshot per answer: a re-ingest that swaps `current` in the middle of an answer leaves every part of
that answer on the version it started on. And the answerability model decides on inputs measured at the top-k it
was trained at, whatever top-k the client asks for."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

from index.build import IngestConfig, run_ingest
from index.store import IndexStore
from service.pipeline.answerability import AnswerabilityModel
from service.pipeline.answering import Answerer
from service.pipeline.generation import Prompt
from service.pipeline.retriever import Retriever
from tests.fakes import ALWAYS_ANSWER, NEVER_ANSWER, HashEmbedder, ScriptedGenerator


class ReingestMidAnswer(ScriptedGenerator):
    """Swaps a new index version in (other notes, another notes folder, a never-answer model) while it writes."""

    def __init__(self, reply: str, notes: Path, store: IndexStore, embedder: HashEmbedder) -> None:
        super().__init__(reply)
        self.notes, self.store, self.embedder = notes, store, embedder

    def generate(self, prompt: Prompt) -> Iterator[str]:
        yield "Recall is "
        run_ingest(self.notes, self.store, self.embedder, IngestConfig())
        self.store.set_models(NEVER_ANSWER.to_dict())
        yield from super().generate(prompt)


def test_a_reingest_in_the_middle_of_an_answer_leaves_it_on_one_version(tmp_path: Path, small_notes: Path) -> None:
    store, embedder = IndexStore(tmp_path / "index"), HashEmbedder()
    run_ingest(small_notes, store, embedder, IngestConfig())
    first = store.set_models(ALWAYS_ANSWER.to_dict())
    other = tmp_path / "other"
    shutil.copytree(small_notes, other)
    (other / "metrics.md").write_text("# Metrics\n\n**Recall**\n\nRecall is what a sieve keeps, in these notes.\n")
    generator = ReingestMidAnswer("TP/(TP+FN) [1].", other, store, embedder)
    qa = Answerer(Retriever(store, embedder), generator, 3)  # models: the ones stored with the index
    answer = qa.answer("What is the formula for recall?")
    assert qa.retriever.snapshot().manifest.version != first  # the swap happened during the answer
    assert answer.index_version == first and not answer.abstained  # decided by the first version's model
    texts = [u.text for u in (c.evidence.unit for c in answer.citations)]
    assert texts and all("TP/(TP+FN)" in t for t in texts)  # the first version's passages, not the new text
    assert all(c.uri and c.uri.startswith(small_notes.resolve().as_uri()) for c in answer.citations)  # its links


def test_answerability_inputs_are_measured_at_the_models_top_k(small_index) -> None:  # type: ignore[no-untyped-def]
    store, embedder = small_index
    at_two = AnswerabilityModel(**{**vars(ALWAYS_ANSWER), "top_k": 2})
    qa = Answerer(Retriever(store, embedder), ScriptedGenerator("TP/(TP+FN) [1]."), 4, at_two)
    question = "What is the formula for recall?"
    wide = qa.answer(question, top_k=4)
    narrow = qa.answer(question, top_k=2)
    assert len(wide.hits) == 4 and len(narrow.hits) == 2
    assert wide.signals == narrow.signals == qa.signals(question, qa.gather(question, 2))
