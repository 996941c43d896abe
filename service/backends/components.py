"""Build the pipeline's parts from ``Settings``. Nothing here loads a model: that happens in ``warm_up``."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from index.build import IngestConfig
from index.hnsw import HnswParams
from index.store import IndexStore
from ingest.chunking import ChunkingConfig
from ingest.embedder import Embedder, SentenceTransformerEmbedder
from service.backends.adapting import AdaptJob
from service.backends.settings import Settings
from service.backends.transformers_generator import TransformersGenerator
from service.pipeline.answerability import AnswerabilityModel
from service.pipeline.answering import Answerer
from service.pipeline.generation import Generator
from service.pipeline.policy import GroundingPolicy
from service.pipeline.reader import ReaderModel
from service.pipeline.retriever import Retriever


def build_embedder(settings: Settings) -> Embedder:
    backend = settings.embedder_backend
    if backend == "openai":
        from ingest.remote_embedder import OpenAIEmbedder

        return OpenAIEmbedder(
            settings.embedder_openai_base_url,
            settings.embedder_openai_model,
            settings.openai_api_key.get_secret_value(),
            settings.openai_timeout_s,
            settings.embed_batch_size or 32,
        )
    if backend in ("onnx", "onnx-int8"):
        from ingest.onnx_embedder import DEFAULT_BATCH_SIZE, OnnxEmbedder

        return OnnxEmbedder(
            settings.embedder_path,
            settings.embedder_name,
            settings.model_cache_dir,
            "int8" if backend == "onnx-int8" else "fp32",
            settings.embed_batch_size or DEFAULT_BATCH_SIZE,
        )
    return SentenceTransformerEmbedder(settings.embedder_path, settings.embedder_name, settings.embed_batch_size or 32)


def adapted_embedder(settings: Settings) -> Callable[[Path | None, str], Embedder]:
    """How a model directory from `notes-qa adapt` is loaded: in ONNX Runtime (fp32, the torch vectors; exported
    once into the model cache) unless torch is configured. Torch in the answer path would leave its threads
    spinning beside the generator's (measured: p50 +0.6 s on test)."""
    if settings.embedder_backend == "torch":
        return lambda path, name: SentenceTransformerEmbedder(path, name, settings.embed_batch_size or 32)

    def onnx(path: Path | None, name: str) -> Embedder:
        from ingest.onnx_embedder import DEFAULT_BATCH_SIZE, OnnxEmbedder

        return OnnxEmbedder(
            path, name, settings.model_cache_dir, "fp32", settings.embed_batch_size or DEFAULT_BATCH_SIZE
        )

    return onnx


def build_generator(settings: Settings) -> Generator:
    if settings.generator_backend == "openai":
        from service.backends.remote_generator import OpenAIChatGenerator

        return OpenAIChatGenerator(
            settings.openai_base_url,
            settings.openai_model,
            settings.openai_api_key.get_secret_value(),
            settings.openai_timeout_s,
            max_new_tokens=settings.max_new_tokens,
            stream=settings.openai_stream,
        )
    if settings.generator_backend == "onnx":
        from service.backends.onnx_generator import OnnxGenaiGenerator

        return OnnxGenaiGenerator(settings.generator_model, settings.model_cache_dir, settings.max_new_tokens)
    return TransformersGenerator(
        settings.generator_model,
        settings.model_cache_dir,
        max_new_tokens=settings.max_new_tokens,
        dtype=settings.generator_dtype,
        threads=settings.torch_threads,
    )


def build_store(settings: Settings) -> IndexStore:
    return IndexStore(settings.index_dir)


def ingest_config(settings: Settings) -> IngestConfig:
    return IngestConfig(
        chunking=ChunkingConfig(settings.chunk_max_chars, settings.chunk_overlap_chars),
        hnsw=HnswParams(settings.hnsw_m, settings.hnsw_ef_construction, settings.hnsw_ef_search),
        max_file_bytes=settings.max_file_bytes,
    )


def build_answerer(
    settings: Settings,
    embedder: Embedder | None = None,
    generator: Generator | None = None,
    answerability: AnswerabilityModel | None = None,
    reader: ReaderModel | None = None,
) -> Answerer:
    retriever = Retriever(
        build_store(settings),
        embedder or build_embedder(settings),
        settings.retrieval_mode,
        settings.hnsw_ef_search,
        adapted=adapted_embedder(settings),
    )
    return Answerer(
        retriever,
        generator or build_generator(settings),
        top_k=settings.top_k,
        answerability=answerability
        or (load_answerability(settings.answerability_model) if settings.answerability_model else None),
        reader=reader or (load_reader(settings.reader_model) if settings.reader_model else None),
        policy=grounding_policy(settings),
    )


def build_adapt_job(settings: Settings, notes_dir: Path, budget_minutes: float) -> AdaptJob:
    """`notes-qa adapt` over ``notes_dir``: the ordinary ingest first, then the configured generator writes
    questions and the packaged weights are fine-tuned."""
    from service.backends.ingesting import ingest_and_report

    answerer = build_answerer(settings)
    return AdaptJob(
        store=answerer.retriever.store,
        notes_dir=notes_dir,
        ingest=lambda: ingest_and_report(settings, notes_dir, quiet=True),
        retriever=answerer.retriever,
        generator=answerer.generator,
        base_model=settings.embedder_path,
        base_name=answerer.retriever.embedder.name,
        ingest_config=ingest_config(settings),
        budget_s=budget_minutes * 60,
        embedder=adapted_embedder(settings),
    )


def grounding_policy(settings: Settings) -> GroundingPolicy:
    """The one grounding policy, from the settings a user may change (the rest are its definitions)."""
    return GroundingPolicy(max_units=settings.evidence_units, char_budget=settings.evidence_chars)


def load_reader(path: Path) -> ReaderModel:
    """A unit reader file (`notes-qa calibrate --save-reader`); a clear error when it is missing or not one."""
    try:
        return ReaderModel.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"reader model {path}: {exc}") from exc


def load_answerability(path: Path) -> AnswerabilityModel:
    """An answerability model file; a clear error when it is missing or not one."""
    try:
        return AnswerabilityModel.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"answerability model {path}: {exc}") from exc
