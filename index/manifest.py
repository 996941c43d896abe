"""The manifest written beside every index version: what built it, so a mismatched load is refused."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class IndexMismatch(RuntimeError):
    """The index on disk was built with another embedder or dimension than the one configured."""


class Manifest(BaseModel):
    version: str
    created_at: str
    embedder_name: str
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

    def check_compatible(self, embedder_name: str, dim: int) -> None:
        if self.embedder_name != embedder_name or (dim and self.dim != dim):
            raise IndexMismatch(
                f"index version {self.version} was built with embedder {self.embedder_name!r} "
                f"(dim {self.dim}) but {embedder_name!r} (dim {dim or '?'}) is configured; "
                "re-run `notes-qa ingest` to rebuild it"
            )
