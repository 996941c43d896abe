"""The manifest written beside every index version: what built it, so a mismatched load is refused."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class IndexMismatch(RuntimeError):
    """The index on disk was built with another embedder or dimension than the one configured."""


class Manifest(BaseModel):
    version: str
    created_at: str
    embedder_name: str  # the vector space (int8 weights give another one: "<model>+int8-smooth")
    embedder_backend: str = "torch"  # what computed the vectors: torch, onnx, onnx-int8, openai
    dim: int
    chunk_count: int
    hnsw_m: int
    hnsw_ef_construction: int
    hnsw_ef_search: int
    chunk_max_chars: int
    chunk_overlap_chars: int
    chunker_version: int = 0
    fingerprint: str  # sha256 over (path, content sha256) of every indexed file + chunking parameters
    # the answerability model trained by `notes-qa calibrate` on this index, if any (else the shipped default)
    answerability: dict[str, Any] | None = None
    reader: dict[str, Any] | None = None  # the unit reader `notes-qa calibrate` trained with it, if any
    notes_root: str | None = None  # the notes folder it was built from (absolute): citations link into it
    obsidian_vault: str | None = None  # that folder's name when it is an Obsidian vault (it has `.obsidian/`)
    # set by `notes-qa adapt`: the fine-tuned embedder that computed these vectors (``model``, relative to the index
    # root, embeds the questions too) and ``source_fingerprint``, the fingerprint these notes have under the
    # configured embedder (an ingest that finds the notes unchanged keeps this version)
    adapter: dict[str, Any] | None = None

    def check_compatible(self, embedder_name: str, dim: int, backend: str = "") -> None:
        """Refuse an embedder whose vectors differ from the index's: another model, or the same model with other
        numerics (int8). Backends computing the same vectors (torch and onnx fp32, tested to agree) share a name."""
        if self.embedder_name != embedder_name or (dim and self.dim != dim):
            raise IndexMismatch(
                f"index version {self.version} was built with embedder {self.embedder_name!r} "
                f"({self.embedder_backend}, dim {self.dim}) but {embedder_name!r} "
                f"({backend or '?'}, dim {dim or '?'}) is configured; re-run `notes-qa ingest` to rebuild it"
            )
