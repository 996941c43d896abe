"""Evidence selection over the answer units stored with the index version: nothing embedded per question but the
question, lead-ins never alone, the unit that answers preferred, the character budget kept."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from index.build import IngestConfig, run_ingest
from index.store import IndexStore
from service.pipeline.answering import Answerer
from service.pipeline.evidence import candidates, choose, question_terms
from service.pipeline.retriever import Retriever
from tests.fakes import HashEmbedder, ScriptedGenerator, fixed_answerability

NOTE = """# Metrics

Precision = TP/(TP+FP)

Accuracy counts every right prediction.

## Recall

Recall = TP/(TP+FN)

# Feature maps

You can reduce the size of feature maps with:

- strides
- max pooling

# Install

Run this to install exactly what the lockfile says:

```bash
npm ci
```
"""


def answerer(tmp_path: Path) -> tuple[Answerer, HashEmbedder, IndexStore]:
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "n.md").write_text(NOTE)
    store = IndexStore(tmp_path / "index")
    embedder = HashEmbedder()
    run_ingest(notes, store, embedder, IngestConfig())
    qa = Answerer(Retriever(store, embedder), ScriptedGenerator("x"), 3, fixed_answerability(True))
    return qa, embedder, store


def test_unit_vectors_are_stored_with_the_version_and_not_recomputed_per_question(tmp_path: Path) -> None:
    qa, embedder, store = answerer(tmp_path)
    snapshot = store.load()
    units, vectors = snapshot.units_of(0)
    assert units and vectors.shape == (len(units), embedder.dim)
    assert (store.root / "current" / "unit_vectors.npy").exists()
    np.testing.assert_allclose(vectors, embedder.embed([u.display() for u in units]), atol=1e-6)
    embedder.embedded.clear()
    qa.gather("What is the formula for recall?")
    assert embedder.embedded == ["What is the formula for recall?"]  # the question only


def test_selection_prefers_the_unit_with_the_question_terms_and_keeps_whole_structures(tmp_path: Path) -> None:
    qa, _, _ = answerer(tmp_path)
    evidence = qa.gather("What is the formula for recall?").evidence
    assert evidence[0].unit.text == "Recall = TP/(TP+FN)" and [e.n for e in evidence] == list(
        range(1, len(evidence) + 1)
    )
    evidence = qa.gather("How do you reduce the size of feature maps?").evidence
    top = evidence[0].unit
    assert top.kind == "list" and top.text.startswith("You can reduce") and top.text.endswith("- max pooling")
    evidence = qa.gather("How do I install exactly what the lockfile says?").evidence
    assert evidence[0].unit.kind == "code" and "npm ci" in evidence[0].unit.text
    assert all(e.unit.kind != "lead_in" for q in ("install", "feature maps") for e in qa.gather(q).evidence)


def test_the_character_budget_holds_after_the_first_unit(tmp_path: Path) -> None:
    qa, _, store = answerer(tmp_path)
    snapshot = store.load()
    question = "recall precision accuracy"
    hits = qa.search(question, 4)
    found = candidates(question, hits, snapshot, qa.retriever.embedder.embed([question])[0])
    chosen = choose(found, found.scores(), max_units=3, char_budget=30)
    assert chosen and sum(len(e.unit.text) for e in chosen[1:]) <= 30


def test_question_terms_leave_out_words_about_the_notes() -> None:
    assert question_terms("What is transfer learning, per my flashcards?") == {"transfer", "learn"}
