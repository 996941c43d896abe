"""`notes-qa bench [--quick]`: run the sections, print as it goes, write BENCHMARKS.md, bench.json and plots."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from eval.bench import embedders, generation, index_scaling, ingest_scaling, retrieval, serving
from eval.bench.report import write
from eval.bench.timing import machine
from service.backends.settings import Settings

RESULTS_DIR = Path("eval/bench/results")


def add_command(command: Any) -> None:
    p = command("bench", cmd_bench, "Measure retrieval, embedders, index and ingest scaling, generation and serving; "
                "write BENCHMARKS.md, bench.json and plots.")  # fmt: skip
    p.add_argument("--quick", action="store_true", help="small sizes only (about 3 minutes)")
    p.add_argument("--out", type=Path, default=RESULTS_DIR, help=f"bench.json and plots (default {RESULTS_DIR})")
    p.add_argument("--markdown", type=Path, default=Path("BENCHMARKS.md"))


def cmd_bench(settings: Settings, args: argparse.Namespace) -> int:
    from index.hnsw import HnswParams
    from ingest.embedder import Embedder, SentenceTransformerEmbedder
    from service.backends.components import build_embedder, build_generator, build_store, ingest_config
    from service.backends.ingesting import ingest_and_report
    from service.pipeline.retriever import Retriever

    quick = args.quick
    started = time.perf_counter()
    log = print
    sections: dict[str, float] = {}

    @contextmanager
    def section(name: str) -> Iterator[None]:
        begun = time.perf_counter()
        yield
        sections[name] = round(time.perf_counter() - begun, 1)
        log(f"  ({name}: {sections[name]:.0f} s)")

    results: dict[str, Any] = {
        "command": "notes-qa bench" + (" --quick" if quick else ""),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
    }
    log(f"machine: {results['machine']}")
    store = build_store(settings)
    if not store.exists():
        ingest_and_report(settings, settings.notes_dir, quiet=True)
    embedder = build_embedder(settings)
    torch_embedder = SentenceTransformerEmbedder(settings.embedder_path, settings.embedder_name)
    retriever = Retriever(store, embedder, settings.retrieval_mode, settings.hnsw_ef_search)
    with section("retrieval"):
        results["retrieval"] = retrieval.run(
            retriever, torch_embedder, settings.top_k, limit=50 if quick else 160, log=log
        )

    backends: dict[str, Embedder] = {"torch": torch_embedder}
    for backend in ("onnx", "onnx-int8"):
        backends[backend] = build_embedder(settings.model_copy(update={"embedder_backend": backend}))
    with section("embedders"):
        results["embedders"] = embedders.run(
            backends, settings.notes_dir, sample=128 if quick else 256, rounds=3 if quick else 5, log=log
        )

    defaults = HnswParams(settings.hnsw_m, settings.hnsw_ef_construction, settings.hnsw_ef_search)
    sizes = [10_000] if quick else [10_000, 100_000, 1_000_000]
    sweep = [(32, 64), (32, 128)] if quick else [(16, 64), (16, 128), (32, 64), (32, 128), (32, 256)]
    with section("index scaling"):
        results["index_scaling"] = index_scaling.run(sizes, sweep, defaults, log=log)

    config = ingest_config(settings)
    with section("ingest"):
        results["ingest"] = [
            # every stage but embedding at full size (stand-in vectors), then the whole ingest with the real embedder
            ingest_scaling.run(
                1_000 if quick else 10_000, ingest_scaling.WordHashEmbedder(), config, settings.notes_dir, log
            ),
            ingest_scaling.run(40 if quick else 160, embedder, config, settings.notes_dir, log),
        ]

    if settings.generator_backend in ("onnx", "transformers"):
        with section("generation"):
            generator = build_generator(settings)
            tokenizer = _tokenizer(settings)
            sizes = [200, 500] if quick else [200, 500, 1000]
            results["generation"] = generation.run(generator, tokenizer, settings.notes_dir, sizes, 2, log=log)
    naive = retrieval.naive_script(retriever, torch_embedder, settings.top_k)
    with section("serving"):
        results["serving"] = serving.run(
            retrieval.bench_questions(160),
            naive,
            [1, 2] if quick else [1, 2, 4],
            2 if quick else 3,
            Path("eval-runs/bench-server.log"),
            search_rounds=1 if quick else 3,
            log=log,
        )
    results["seconds"] = time.perf_counter() - started
    results["section_seconds"] = sections
    for path in write(results, args.out, args.markdown):
        print(f"wrote {path}", file=sys.stderr)
    return 0


def _tokenizer(settings: Settings) -> Any:
    from transformers import AutoTokenizer

    from service.backends.packaged_models import converted_model_dir, packaged_gguf

    return AutoTokenizer.from_pretrained(str(converted_model_dir(packaged_gguf(settings.generator_model),
                                                                 settings.model_cache_dir)))  # fmt: skip
