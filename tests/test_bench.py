"""The bench's own parts: the generated vault, the ingest section on it, and the report it writes."""

from __future__ import annotations

import json
from pathlib import Path

from eval.bench import ingest_scaling, vault
from eval.bench.report import headlines, write
from index.build import IngestConfig
from tests.conftest import NOTES


def test_the_vault_is_seeded_and_plants_near_copies(tmp_path: Path) -> None:
    pool = vault.sentences(NOTES)
    a = vault.generate(tmp_path / "a", 40, pool)
    b = vault.generate(tmp_path / "b", 40, pool)
    files = sorted(p.relative_to(a.root) for p in a.root.rglob("*.md"))
    assert len(files) == 40 and len(a.planted) == 2 and a.planted == b.planted
    assert all((a.root / f).read_text() == (b.root / f).read_text() for f in files)
    copy, source = next(iter(a.planted.items()))
    assert (a.root / copy).read_text() != (a.root / source).read_text()


def test_ingest_section_collapses_planted_copies_and_nothing_else(tmp_path: Path) -> None:
    row = ingest_scaling.run(60, ingest_scaling.WordHashEmbedder(), IngestConfig(), NOTES, log=lambda _: None)
    assert row["planted_copies"] == 3 and row["planted_collapsed"] >= 0.95 and row["false_merges"] == 0
    assert set(row["stages"]) == {"read", "clean", "chunk", "embed", "dedup", "index", "write"}
    assert row["reingest_one_file_embedded"] > 0 and row["reingest_unchanged_s"] < row["seconds"]

    results = {
        "command": "notes-qa bench --quick", "date": "today", "seconds": 1.0, "ingest": [row],
        "machine": {"cpu": "test", "cores": 2, "flags": ["avx2"], "python": "3.11", "system": "Linux"},
    }  # fmt: skip
    paths = write(results, tmp_path / "out", tmp_path / "BENCHMARKS.md")
    text = (tmp_path / "BENCHMARKS.md").read_text()
    assert "## Ingest on a generated vault" in text and "ingest.png" in text
    assert json.loads((tmp_path / "out" / "bench.json").read_text())["ingest"][0]["chunks"] == row["chunks"]
    assert all(p.exists() for p in paths)
    # stand-in vectors make embedding free: their dedup share has no target
    assert any(met is None for what, _, _, met in headlines(results) if "dedup share" in what)


def test_stand_in_vectors_are_unit_and_follow_the_words() -> None:
    embedder = ingest_scaling.WordHashEmbedder()
    texts = ["gradient descent on the loss", "the loss on gradient descent", "a cat sat on a mat", ""]
    x = embedder.embed(texts)
    assert x.shape == (4, 384) and abs(float((x * x).sum(axis=1).min()) - 1) < 1e-5
    assert float(x[0] @ x[1]) > 0.99  # the same words: the same vector
    assert float(x[0] @ x[2]) < float(x[0] @ x[1]) - 0.3
    assert (embedder.embed(texts[2:3]) == x[2:3]).all()  # a text's vector does not depend on its batch
