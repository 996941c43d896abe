"""Embedder backends: ONNX fp32 agrees with torch, int8 is its own vector space, the manifest refuses a mismatched
index, length-sorted batches keep each text's vector, and the `openai` backend speaks /v1/embeddings."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from index.build import IngestConfig, run_ingest
from index.manifest import IndexMismatch
from index.store import IndexStore
from ingest.embedder import SentenceTransformerEmbedder
from ingest.types import ModelUnavailable
from service.backends.components import build_embedder
from service.backends.settings import Settings
from service.pipeline.retriever import Retriever
from tests.conftest import NOTES, REPO
from tests.fake_openai import Script, fake_openai_app
from tests.fakes import HashEmbedder
from tests.servers import serve_app

CACHE = REPO / ".notes-qa" / "models"


@pytest.fixture(scope="module")
def passages() -> list[str]:
    from tests.test_dedup import bundled_chunks

    return [c.passage() for c in bundled_chunks()[0]]


@pytest.fixture(scope="module")
def torch_vectors(passages: list[str]) -> np.ndarray:
    return SentenceTransformerEmbedder(None, "all-MiniLM-L6-v2").embed(passages)


@pytest.mark.slow
def test_onnx_fp32_gives_the_torch_vectors_on_the_bundled_chunks(passages: list[str], torch_vectors: Any) -> None:
    onnx = build_embedder(Settings(embedder_backend="onnx", model_cache_path=CACHE))
    vectors = onnx.embed(passages)
    cosines = (vectors * torch_vectors).sum(axis=1)
    assert vectors.shape == torch_vectors.shape and vectors.dtype == np.float32
    assert cosines.min() >= 0.9999, f"lowest cosine {cosines.min():.5f}"
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert onnx.name == "all-MiniLM-L6-v2" and onnx.backend == "onnx"  # same vector space: a torch index is reused


@pytest.mark.slow
def test_length_sorted_batches_keep_each_texts_vector(passages: list[str]) -> None:
    onnx = build_embedder(Settings(embedder_backend="onnx", model_cache_path=CACHE, embed_batch_size=16))
    mixed = [*passages[:30], "short", "", "a " * 400]  # sorted by length inside, returned in input order
    batched = onnx.embed(mixed)
    one_by_one = np.vstack([onnx.embed([t]) for t in mixed])
    assert (batched * one_by_one).sum(axis=1).min() >= 0.9999
    assert onnx.embed([]).shape == (0, onnx.dim)


@pytest.mark.slow
def test_the_export_fuses_attention_and_int8_smooths_every_projection_but_the_first_down(passages: list[str]) -> None:
    import onnx

    from ingest.embedder import packaged_minilm_path
    from ingest.onnx_embedder import exported_graph
    from ingest.onnx_int8 import after_gelu

    fp32 = onnx.load(str(exported_graph(packaged_minilm_path(), CACHE, "fp32")), load_external_data=False)
    int8 = onnx.load(str(exported_graph(packaged_minilm_path(), CACHE, "int8")), load_external_data=False)
    layers = 6  # all-MiniLM-L6-v2
    assert sum(n.op_type == "Attention" for n in fp32.graph.node) == layers  # one fused op per layer
    assert len(after_gelu(fp32)) == layers
    ops = [n.op_type for n in int8.graph.node]
    assert ops.count("QAttention") == layers and ops.count("MatMul") == 1  # only layer 0's down projection is fp32
    smoothing = [n for n in int8.graph.node if n.name.endswith("_smooth")]
    assert len(smoothing) == 3 * layers - 1 + layers  # the 17 quantised MatMuls and the 6 attentions read x/s


def test_smoothing_keeps_a_projections_fp32_output_and_shrinks_the_outlier_channel() -> None:
    """x·W = (x/s)·(diag(s)·W) exactly, and the channel with the large maximum is divided by the largest s."""
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    from ingest.onnx_int8 import smooth

    rng = np.random.default_rng(0)
    w = rng.normal(size=(8, 4)).astype(np.float32)
    node = helper.make_node("MatMul", ["x", "w"], ["y"], name="proj")
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 4])],
        [numpy_helper.from_array(w, "w")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    x = rng.normal(size=(5, 8)).astype(np.float32)
    x[:, 3] *= 30  # an outlier channel, as in BERT's layer-norm outputs
    maxima = {"x": np.abs(x).max(axis=0)}
    smooth(model, [model.graph.node[0]], maxima)
    onnx.checker.check_model(model)
    y = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    assert np.allclose(y, x @ w, rtol=1e-4, atol=1e-4)
    inverse = numpy_helper.to_array(next(i for i in model.graph.initializer if i.name == "proj_smooth_inv"))
    assert int(np.argmin(inverse)) == 3  # the outlier channel is divided the most
    assert np.abs(x * inverse).max(axis=0).max() < np.abs(x).max(axis=0).max() / 3  # the tensor's range shrank


@pytest.mark.slow
def test_int8_agrees_with_torch_but_is_its_own_vector_space(passages: list[str], torch_vectors: Any) -> None:
    int8 = build_embedder(Settings(embedder_backend="onnx-int8", model_cache_path=CACHE))
    cosines = (int8.embed(passages) * torch_vectors).sum(axis=1)
    assert cosines.min() >= 0.99, f"lowest cosine {cosines.min():.4f}"  # the bar for an agreeing backend
    assert cosines.mean() < 0.9999  # close, but not the same vectors: it may not search an fp32 index
    assert int8.name == "all-MiniLM-L6-v2+int8-smooth" and int8.backend == "onnx-int8"


class _Named(HashEmbedder):
    def __init__(self, name: str, backend: str) -> None:
        super().__init__()
        self.name, self.backend = name, backend


def _index_with(tmp_path: Path, embedder: Any) -> IndexStore:
    store = IndexStore(tmp_path / "index")
    run_ingest(NOTES, store, embedder, IngestConfig())
    return store


def test_the_manifest_records_the_backend_and_refuses_other_vectors(tmp_path: Path) -> None:
    store = _index_with(tmp_path, _Named("mini", "torch"))
    manifest = store.load().manifest
    assert (manifest.embedder_name, manifest.embedder_backend) == ("mini", "torch")
    # the same vectors from another runtime: served
    Retriever(store, _Named("mini", "onnx"), "hybrid").snapshot()
    # int8 weights, or another model: refused with the reason
    for other in (_Named("mini+int8", "onnx-int8"), _Named("other-model", "openai")):
        with pytest.raises(IndexMismatch, match=r"re-run `notes-qa ingest`"):
            Retriever(store, other, "hybrid").snapshot()


def test_a_changed_backend_reembeds_on_ingest(tmp_path: Path) -> None:
    store = _index_with(tmp_path, _Named("mini", "torch"))
    int8 = _Named("mini+int8", "onnx-int8")
    report = run_ingest(NOTES, store, int8, IngestConfig())
    assert report.chunks_embedded == report.chunks_total > 0
    assert store.load().manifest.embedder_backend == "onnx-int8"


@pytest.fixture
def embeddings_server() -> Iterator[tuple[str, Script]]:
    reference = HashEmbedder()
    script = Script(embed=lambda texts: 3.0 * reference.embed(texts))  # servers need not normalise
    with serve_app(fake_openai_app(script), ready_path="/v1/models") as base:
        yield base, script


def _remote(base: str, batch: int = 4) -> Any:
    settings = Settings(
        embedder_backend="openai", embedder_openai_base_url=f"{base}/v1", embedder_openai_model="hash-embedder",
        embed_batch_size=batch, openai_timeout_s=5,
    )  # fmt: skip
    return build_embedder(settings)


def test_openai_backend_batches_normalises_and_keeps_order(embeddings_server: tuple[str, Script]) -> None:
    base, script = embeddings_server
    remote = _remote(base)
    texts = [f"note {i} about recall and precision {'x ' * i}" for i in range(10)]
    vectors = remote.embed(texts)
    assert remote.dim == HashEmbedder.dim and remote.backend == "openai"
    assert np.allclose(vectors, HashEmbedder().embed(texts), atol=1e-6)
    sent = [r["input"] for r in script.requests if r.get("model") == "hash-embedder"]
    assert [len(batch) for batch in sent] == [1, 4, 4, 2]  # the dimension probe, then batches of 4


def test_openai_backend_ingests_and_serves_an_index(tmp_path: Path, embeddings_server: tuple[str, Script]) -> None:
    base, _ = embeddings_server
    store = _index_with(tmp_path, _remote(base))
    manifest = store.load().manifest
    assert (manifest.embedder_name, manifest.embedder_backend, manifest.dim) == ("hash-embedder", "openai", 64)
    question = "What is the formula for recall?"
    hits = Retriever(store, _remote(base), "dense").retrieve(question, 4)
    local = Retriever(store, _Named("hash-embedder", "openai"), "dense").retrieve(question, 4)
    assert len(hits) == 4 and [h.chunk.location for h in hits] == [h.chunk.location for h in local]
    with pytest.raises(IndexMismatch):  # the local model may not search vectors the server made
        Retriever(store, SentenceTransformerEmbedder(None, "all-MiniLM-L6-v2"), "dense").snapshot()


def test_openai_backend_failure_is_a_clear_error_and_keeps_the_index(
    tmp_path: Path, embeddings_server: tuple[str, Script]
) -> None:
    base, script = embeddings_server
    remote = _remote(base)
    store = _index_with(tmp_path, remote)
    before = store.current_version()
    notes = tmp_path / "notes"
    shutil.copytree(NOTES, notes)
    (notes / "new.md").write_text("# New\n\nA note that must be embedded.\n")
    script.status = 503
    with pytest.raises(ModelUnavailable, match="embeddings server"):
        run_ingest(notes, store, remote, IngestConfig())
    assert store.current_version() == before
