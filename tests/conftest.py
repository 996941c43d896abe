from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
NOTES = REPO / "notes"


@pytest.fixture
def notes_copy(tmp_path: Path) -> Path:
    """A private copy of the bundled notes, safe to edit."""
    target = tmp_path / "notes"
    shutil.copytree(NOTES, target)
    return target


def note(name: str) -> str:
    matches = sorted(NOTES.glob(f"{name}*"))
    assert matches, name
    return matches[0].read_text(encoding="utf-8")


@pytest.fixture
def small_notes(tmp_path: Path) -> Path:
    folder = tmp_path / "small"
    folder.mkdir()
    (folder / "metrics.md").write_text(
        "# Metrics\n\n**Recall**\n\nRecall = TP/(TP+FN), the share of real positives that are found.\n\n"
        "**Precision**\n\nPrecision = TP/(TP+FP), the share of predicted positives that are right.\n"
    )
    (folder / "cards.txt").write_text(
        "Deck title\n\nAce your homework with Quizlet!\n\nWhat does MRKL stand for?\n\n"
        "Modular Reasoning, Knowledge and Language\n\nWhat is BERT?\n\n"
        "Bidirectional Encoder Representations from Transformers\n\nRelated study sets\n\nBiology\n\nView Set\n"
    )
    return folder


@pytest.fixture
def small_index(tmp_path: Path, small_notes: Path):  # type: ignore[no-untyped-def]
    """A real index (real HNSW, BM25 and store) over small notes, embedded by the hashing fake."""
    from index.build import IngestConfig, run_ingest
    from index.store import IndexStore
    from tests.fakes import HashEmbedder

    store = IndexStore(tmp_path / "index")
    embedder = HashEmbedder()
    run_ingest(small_notes, store, embedder, IngestConfig())
    return store, embedder


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's headless Chromium through Playwright (skipped where absent, a failure on CI)."""
    from tests.servers import launch_chromium

    with launch_chromium() as b:
        yield b


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    from tests.servers import new_page

    page = new_page(browser, viewport={"width": 1000, "height": 900})
    yield page
    page.context.close()


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Real-model tests (marked slow): the bundled notes, a private index, the repo's model cache."""
    from service.backends.settings import Settings

    # The converted generator is cached in the repo's git-ignored data dir; the index is private to this run.
    return Settings(
        notes_dir=NOTES,
        index_path=tmp_path_factory.mktemp("e2e") / "index",
        model_cache_path=REPO / ".notes-qa" / "models",
    )


@pytest.fixture(scope="session")
def answerer(settings: Any) -> Any:
    """The real embedder and generator over the bundled notes, warmed up once per test session."""
    from index.build import run_ingest
    from service.backends.components import build_answerer, build_embedder, build_store, ingest_config

    embedder = build_embedder(settings)
    run_ingest(settings.notes_dir, build_store(settings), embedder, ingest_config(settings))
    qa = build_answerer(settings, embedder=embedder)
    qa.warm_up()
    return qa
