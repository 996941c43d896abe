"""`notes-qa adapt` (``service.backends.adapting``): the pair builder on a hand-made vault (a trap is kept only
when the vault does not answer it), the run's stages with fakes for the generator, trainer and embedders (resume,
reuse, a kill leaves the served version, a worse model is never served), and the real training on the packaged
weights (slow)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from index.build import IngestConfig, run_ingest
from index.store import IndexStore
from ingest.types import AnswerUnit, UsageError
from service.backends import adapting
from service.backends.adapt_check import auc_standard_error, verdict
from service.backends.adapt_pairs import (
    QUESTION_SYSTEM,
    PairBuilder,
    PairLog,
    PairRecord,
    question_from,
    sample_units,
)
from service.backends.adapting import AdaptJob, adapt
from service.pipeline.generation import Prompt
from service.pipeline.retriever import Retriever
from tests.fakes import HashEmbedder

TOPICS = [
    ("Sourdough", "sourdough starter flour water ferment bubbles rye levain"),
    ("Kayaking", "kayak paddle river rapids eddy spray skirt"),
    ("Compost", "compost worms leaves nitrogen carbon pile turning"),
    ("Telescope", "telescope mirror aperture eyepiece focal star chart"),
    ("Espresso", "espresso grinder tamp crema portafilter shot pressure"),
    ("Beekeeping", "hive queen drones honey frames smoker wax"),
    ("Bonsai", "bonsai pruning wire juniper root pot moss"),
    ("Knitting", "knitting yarn needles purl stitch cable wool"),
    ("Sailing", "sailing jib mainsail tack boom keel wind"),
    ("Pottery", "pottery clay wheel kiln glaze trimming slip"),
    ("Climbing", "climbing rope belay harness carabiner crag chalk"),
    ("Fermenting", "kimchi cabbage brine jar salt garlic chili"),
    ("Origami", "origami crane fold crease valley mountain paper"),
    ("Chess", "chess opening gambit pawn bishop castle endgame"),
    ("Birding", "birding binoculars warbler finch heron migration call"),
    ("Cycling", "cycling derailleur chain cassette saddle cadence gears"),
]


def write_vault(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for heading, words in TOPICS:
        w = words.split()
        body = (
            f"# {heading}\n\n{' '.join(w[:4])} are the first things to learn about {w[0]}.\n\n"
            f"Later the {w[4]} and the {w[5]} matter, together with {w[6]}, for every {w[0]} session.\n"
        )
        (folder / f"{heading.lower()}.md").write_text(body)
    return folder


class Writer:
    """Writes the question a passage answers from its own words, and a trap about ``trap_words``; counts calls."""

    name = "writer"

    def __init__(self, trap_words: str = "zirconium quasar melting point", fail_after: int | None = None) -> None:
        self.trap_words = trap_words
        self.fail_after = fail_after
        self.prompts: list[Prompt] = []

    def warm_up(self) -> None:
        pass

    def generate(self, prompt: Prompt) -> Iterator[str]:
        if self.fail_after is not None and len(self.prompts) >= self.fail_after:
            raise KeyboardInterrupt  # the user kills the run
        self.prompts.append(prompt)
        passage = prompt.user.split("Passage:\n", 1)[1].split("\n\nQuestion:")[0]
        words = re.findall(r"[a-z]+", passage.lower())
        if prompt.system == QUESTION_SYSTEM:
            yield f"What do my notes say about the {' '.join(words[:5])}?"
        else:
            yield f"What is the {self.trap_words} of the {words[0]}?"


def named(embedder: HashEmbedder, name: str) -> HashEmbedder:
    embedder.name = name  # type: ignore[misc]
    return embedder


class Scrambled(HashEmbedder):
    """A worse model: every text lands somewhere random."""

    def embed(self, texts: list[str], progress: bool = False) -> np.ndarray:
        rng = np.random.default_rng(len(self.embedded))
        self.embedded.extend(texts)
        out = rng.normal(size=(len(texts), self.dim)).astype(np.float32)
        return out / np.linalg.norm(out, axis=1, keepdims=True)


def fake_trainer(calls: list[int]) -> Any:
    def train(base: Path | None, pairs: list[PairRecord], out: Path, on_step: Any) -> Path:
        calls.append(len(pairs))
        out.mkdir(parents=True)
        (out / "modules.json").write_text("[]")
        return out

    return train


def job_for(vault: Path, root: Path, writer: Writer, trainer_calls: list[int], adapted: type = HashEmbedder,
            budget_s: float = 600) -> AdaptJob:  # fmt: skip
    store = IndexStore(root)
    retriever = Retriever(store, HashEmbedder(), "dense", adapted=lambda path, name: named(adapted(), name))
    return AdaptJob(
        store=store,
        notes_dir=vault,
        ingest=lambda: run_ingest(vault, store, HashEmbedder(), IngestConfig()),
        retriever=retriever,
        generator=writer,
        base_model=None,
        base_name=HashEmbedder.name,
        ingest_config=IngestConfig(),
        budget_s=budget_s,
        min_train=8,
        min_held_out=1,
        embedder=lambda path, name: named(adapted() if path else HashEmbedder(), name),
        trainer=fake_trainer(trainer_calls),
    )


def test_a_reply_is_one_short_question_or_nothing() -> None:
    assert question_from('Question: "How do I run the tests?" Use make test.') == "How do I run the tests?"
    assert question_from("\n\n**What does npm ci install?**\nmore") == "What does npm ci install?"
    assert question_from("The passage explains npm ci.") is None
    assert question_from("Why?") is None
    assert question_from("What " * 40 + "?") is None


def test_the_pair_builder_keeps_what_retrieval_confirms_and_traps_the_vault_does_not_answer(tmp_path: Path) -> None:
    vault = write_vault(tmp_path / "vault")
    store = IndexStore(tmp_path / "index")
    run_ingest(vault, store, HashEmbedder(), IngestConfig())
    retriever = Retriever(store, HashEmbedder(), "dense")
    snapshot = retriever.snapshot()
    picked = list(sample_units(snapshot))
    assert len({row for row, _ in picked}) == len(picked) == len(snapshot.chunks)  # one unit per passage

    row, index = picked[0]
    record = PairBuilder(Writer(), retriever, snapshot).build(row, index, with_trap=True)
    assert record.question and record.kept  # the passage's own words: retrieval finds it
    assert record.trap and record.trap_kept  # "zirconium quasar" is nowhere in the vault

    # a trap whose detail another note gives is not a trap: the vault answers it
    elsewhere = "kiln glaze"  # pottery's words, asked of another topic's passage
    chunk = snapshot.chunks[row]
    assert "kiln" not in chunk.text
    record = PairBuilder(Writer(trap_words=elsewhere), retriever, snapshot).build(row, index, with_trap=True)
    assert record.trap and not record.trap_kept

    # a question about something retrieval does not find for this passage is dropped
    builder = PairBuilder(Writer(), retriever, snapshot)
    assert not builder.found("What about the kiln glaze and trimming slip on the wheel?", row)


def test_the_pairs_file_survives_a_line_cut_short(tmp_path: Path) -> None:
    log = PairLog(tmp_path / "pairs.jsonl")
    log.append(PairRecord("k1", "a.md", 1, "What is it?", True, "p", "u"))
    with log.path.open("a") as fh:
        fh.write('{"key": "k2", "file": "a.m')  # killed mid-line
    assert list(log.records()) == ["k1"]


def test_adapt_serves_the_adapted_version_and_a_second_run_takes_nothing(tmp_path: Path) -> None:
    vault = write_vault(tmp_path / "vault")
    writer, trained = Writer(), []
    job = job_for(vault, tmp_path / "index", writer, trained)
    report = adapt(job)
    assert report.outcome == "adopted", report.reason
    assert report.kept >= 10 and report.traps_kept >= 1 and len(trained) == 1
    served = job.store.current_manifest()
    assert served and served.adapter and served.embedder_name.startswith("hash-embedder+adapted-")
    assert served.version == report.version
    assert (job.store.root / served.adapter["model"] / "modules.json").exists()

    # the server embeds questions with the version's own model, and says so
    retriever = Retriever(job.store, HashEmbedder(), "dense", adapted=lambda p, n: named(HashEmbedder(), n))
    snapshot = retriever.snapshot()
    assert retriever.embedder_for(snapshot).name == served.embedder_name
    assert retriever.reader_name().startswith("adapted")
    retriever.retrieve("sourdough starter", 3)
    assert retriever.embedder.embedded == []  # the configured one is not used against an adapted version

    # notes unchanged: ingest keeps the adapted version; adapt does nothing, without the generator
    asked = len(writer.prompts)
    assert not run_ingest(vault, job.store, HashEmbedder(), IngestConfig()).changed
    again = adapt(job)
    assert again.outcome == "already adapted" and len(writer.prompts) == asked and len(trained) == 1

    # a changed note: ingest serves the packaged space again; adapt reuses every question already written
    (vault / "chess.md").write_text("# Chess\n\nThe Sicilian defence answers e4 with c5 in most of my games.\n")
    assert run_ingest(vault, job.store, HashEmbedder(), IngestConfig()).changed
    assert job.store.current_manifest().adapter is None  # type: ignore[union-attr]
    third = adapt(job)
    assert third.outcome == "adopted"
    assert len(writer.prompts) - asked <= 2  # only the changed note's unit (and its trap) are new


def test_a_killed_run_leaves_the_served_version_and_resumes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    vault = write_vault(tmp_path / "vault")
    trained: list[int] = []
    job = job_for(vault, tmp_path / "index", Writer(fail_after=7), trained)
    with pytest.raises(KeyboardInterrupt):
        adapt(job)
    before = job.store.current_version()
    assert len(PairLog(job.store.root / "adapt" / "pairs.jsonl").records()) >= 5

    def killed(*args: Any) -> Any:
        raise KeyboardInterrupt

    writer = Writer()
    job = job_for(vault, tmp_path / "index", writer, trained)
    monkeypatch.setattr(adapting, "retrieval_check", killed)  # killed after re-embedding, before the check
    with pytest.raises(KeyboardInterrupt):
        adapt(job)
    assert job.store.current_version() == before and job.store.current_manifest().adapter is None  # type: ignore[union-attr]
    resumed_prompts = len(writer.prompts)
    assert resumed_prompts < 2 * len(TOPICS)  # the units done before the first kill were not asked again
    monkeypatch.undo()
    assert adapt(job).outcome == "adopted"
    assert len(writer.prompts) == resumed_prompts and trained and len(trained) == 1  # pairs and model reused


def test_a_worse_model_is_never_served_and_the_verdict_is_remembered(tmp_path: Path) -> None:
    vault = write_vault(tmp_path / "vault")
    writer, trained = Writer(), []
    job = job_for(vault, tmp_path / "index", writer, trained, adapted=Scrambled)
    before = job.store.current_version()
    report = adapt(job)
    assert report.outcome == "not adopted" and "hit@1 fell" in report.reason
    assert job.store.current_version() == before or job.store.current_manifest().adapter is None  # type: ignore[union-attr]
    assert not any(json.loads(p.read_text()).get("adapter") for p in job.store.root.glob("versions/*/manifest.json"))
    asked = len(writer.prompts)
    assert adapt(job).outcome == "already tried" and len(writer.prompts) == asked


def test_too_little_budget_says_so_and_keeps_what_was_written(tmp_path: Path) -> None:
    vault = write_vault(tmp_path / "vault")
    job = job_for(vault, tmp_path / "index", Writer(), [], budget_s=0.0)
    with pytest.raises(UsageError, match="raise --budget-minutes"):
        adapt(job)
    assert job.store.current_manifest().adapter is None  # type: ignore[union-attr]


@pytest.mark.slow
def test_fine_tuning_the_packaged_weights_moves_questions_towards_their_passages(tmp_path: Path) -> None:
    from ingest.embedder import SentenceTransformerEmbedder
    from service.backends.adapt_training import fine_tune

    pairs = []
    for heading, words in TOPICS:
        w = words.split()
        passage = f"{heading}: {' '.join(w)} are what this note is about."
        pairs.append(PairRecord(heading, "a.md", 1, f"What do I use the {w[1]} for?", True, passage, passage))
    steps: list[int] = []
    model = fine_tune(None, pairs, tmp_path / "model", lambda step, n, loss: steps.append(step))
    assert steps == [1] and (model / "modules.json").exists() and not list(tmp_path.glob(".tmp-*"))
    packaged, tuned = SentenceTransformerEmbedder(None, "p"), SentenceTransformerEmbedder(model, "t")
    q = [p.question or "" for p in pairs]
    texts = [p.passage for p in pairs]
    before = np.diag(packaged.embed(q) @ packaged.embed(texts).T).mean()
    after = np.diag(tuned.embed(q) @ tuned.embed(texts).T).mean()
    assert after > before  # one small step from a competent start, towards the pairs
    assert float((packaged.embed(texts) * tuned.embed(texts)).sum(axis=1).min()) > 0.9  # not a new model
    # the server loads it in ONNX Runtime (its saved pooling config is sentence-transformers 6's): the same vectors
    from ingest.onnx_embedder import OnnxEmbedder

    served = OnnxEmbedder(model, "t", tmp_path / "cache")
    assert float((served.embed(q) * tuned.embed(q)).sum(axis=1).min()) > 0.9999


class FewUnits:
    """A snapshot's units without an index: ten passages with usable units, one with only a short one."""

    def __init__(self) -> None:
        def unit(words: int) -> AnswerUnit:
            return AnswerUnit(" ".join(["word"] * words), 1, 1, "prose")

        self.units = [(unit(3), unit(8), unit(9)) for _ in range(10)] + [(unit(2),)]
        self.chunks = self.units

    def units_of(self, row: int) -> tuple[tuple[AnswerUnit, ...], None]:
        return self.units[row], None


def test_sampling_takes_one_unit_a_passage_never_a_short_one_and_is_seeded() -> None:
    picked = list(sample_units(FewUnits()))  # type: ignore[arg-type]
    assert len({row for row, _ in picked}) == len(picked) == 10
    assert all(index in (1, 2) for _, index in picked)
    assert picked == list(sample_units(FewUnits()))  # type: ignore[arg-type]


def test_the_check_serves_nothing_worse_and_allows_for_noise() -> None:
    base = {"hit@1": 0.75, "hit@5": 0.9, "auc": 0.60, "n_held_out": 12, "n_traps": 4}
    assert verdict(base, {**base, "auc": 0.58})[0]  # one pair of 48: within the noise of 4 traps
    assert not verdict(base, {**base, "auc": 0.30})[0]
    assert not verdict(base, {**base, "hit@1": 0.70})[0]
    many = {**base, "n_held_out": 400, "n_traps": 400, "auc": 0.90}
    assert auc_standard_error(0.90, 400, 400) < 0.02 < auc_standard_error(0.60, 12, 4)
    assert not verdict(many, {**many, "auc": 0.87})[0]  # beyond the noise of many traps


def test_ready_names_the_reader_in_use_and_serve_follows_the_adapted_version(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from service.api.app import create_app
    from service.backends.settings import Settings
    from service.pipeline.answering import Answerer
    from tests.fakes import ALWAYS_ANSWER, ScriptedGenerator

    vault = write_vault(tmp_path / "vault")
    job = job_for(vault, tmp_path / "index", Writer(), [])
    job.ingest()
    served = Retriever(job.store, HashEmbedder(), "dense", adapted=lambda p, n: named(HashEmbedder(), n))
    qa = Answerer(served, ScriptedGenerator("Flour and water [1]."), 3, ALWAYS_ANSWER)
    app = create_app(Settings(data_dir=tmp_path), answerer=qa)
    with TestClient(base_url="http://localhost", app=app) as client:
        assert client.get("/ready").json()["reader"].startswith("packaged embedder")
        assert adapt(job).outcome == "adopted"  # while the server runs
        ready = client.get("/ready").json()
        assert ready["reader"].startswith("adapted (") and "+adapted-" in ready["embedder"]
        hits = client.post("/search", json={"question": "sourdough starter flour"}).json()
        assert hits["hits"][0]["file"] == "sourdough.md"


def test_notes_reindexed_while_adapting_are_not_overridden(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    vault = write_vault(tmp_path / "vault")
    job = job_for(vault, tmp_path / "index", Writer(), [])
    real_check = adapting.retrieval_check

    def check_after_an_edit(*args: Any) -> Any:  # a save and its re-ingest land while adapt runs
        if not (vault / "new.md").exists():
            (vault / "new.md").write_text("# Tea\n\nGreen tea steeps at eighty degrees for two minutes in my pot.\n")
            run_ingest(vault, job.store, HashEmbedder(), IngestConfig())
        return real_check(*args)

    monkeypatch.setattr(adapting, "retrieval_check", check_after_an_edit)
    report = adapt(job)
    assert report.outcome == "not adopted" and "re-indexed" in report.reason
    served = job.store.current_manifest()
    assert served and served.adapter is None
    assert any(c.file == "new.md" for c in job.store.load().chunks)
