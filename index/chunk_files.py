"""An index version's passages on disk: one JSON object per line, answer units and locations inline."""

from __future__ import annotations

import json
from pathlib import Path

from ingest.types import AnswerUnit, Chunk, Location


def write_chunks(path: Path, chunks: list[Chunk]) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        for chunk in chunks:
            row = dict(vars(chunk))  # what asdict gives, without its deep copy (a third of a big re-ingest)
            row["also_in"] = [vars(loc) for loc in chunk.also_in]
            row["units"] = [vars(unit) for unit in chunk.units]
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")


def read_chunks(path: Path) -> list[Chunk]:
    chunks = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            raw = json.loads(line)
            raw["also_in"] = tuple(Location(**loc) for loc in raw.get("also_in", []))
            raw["lines"] = tuple(raw.get("lines", ()))
            raw["tags"] = tuple(raw.get("tags", ()))
            raw["aliases"] = tuple(raw.get("aliases", ()))
            raw["units"] = tuple(AnswerUnit(**unit) for unit in raw.get("units", ()))
            chunks.append(Chunk(**raw))
    return chunks
