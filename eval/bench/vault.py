"""A generated vault for the ingest benchmark: notes made of real sentences from the bundled notes, recombined at
random (seeded), every third word varied, so that near-duplicate collapse has nothing to collapse among them, plus a share of planted
near-copies (another note with a few words changed) that it must collapse."""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from pathlib import Path

from ingest.reading import find_notes, read_note

SENTENCE = re.compile(r"(?<=[.!?])\s+")


@dataclass(frozen=True)
class Vault:
    root: Path
    notes: int
    planted: dict[str, str]  # near-copy file -> the note it copies


def sentences(notes_dir: Path) -> list[str]:
    """Sentences and list lines of the bundled notes, 40–300 characters, without markup."""
    pool: set[str] = set()
    for path in find_notes(notes_dir):
        text = read_note(notes_dir, path, 5_000_000).text
        for line in text.splitlines():
            line = re.sub(r"^[#>*\-\d.|\s]+", "", line).strip()
            for piece in SENTENCE.split(line):
                if 40 <= len(piece) <= 300 and "|" not in piece and "http" not in piece:
                    pool.add(piece)
    return sorted(pool)


def generate(root: Path, notes: int, pool: list[str], seed: int = 7, planted_share: float = 0.05) -> Vault:
    """``notes`` files under ``root`` in 20 folders; each has 4–6 sections of 6–15 sentences (~10 chunks of
    900 characters); the last ``planted_share`` of them are near-copies of earlier ones."""
    rng = random.Random(seed)
    vocabulary = sorted({w for sentence in pool for w in sentence.split() if w.isalpha()})
    planted: dict[str, str] = {}
    originals = int(notes * (1 - planted_share))
    texts: dict[str, str] = {}
    for i in range(notes):
        rel = f"topic-{i % 20:02d}/note-{i:05d}.md"
        if i < originals:
            texts[rel] = _note(rng, pool, vocabulary, i)
        else:
            source = rng.choice(list(texts)[:originals])
            texts[rel] = _near_copy(rng, texts[source])
            planted[rel] = source
    for rel, text in texts.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return Vault(root, notes, planted)


def _note(rng: random.Random, pool: list[str], vocabulary: list[str], i: int) -> str:
    lines = [f"# Study note {i}", ""]
    for s in range(rng.randint(4, 6)):
        lines += [f"## Part {s + 1}: {' '.join(rng.sample(vocabulary, 4))}", ""]
        for _ in range(rng.randint(2, 3)):
            lines += [
                " ".join(_vary(rng, sentence, vocabulary) for sentence in rng.sample(pool, rng.randint(3, 5))),
                "",
            ]
    return "\n".join(lines)


def _vary(rng: random.Random, sentence: str, vocabulary: list[str]) -> str:
    """Every third word swapped for another real word: each word 3-gram gets a random member, so a vault built from
    a few hundred sentences does not repeat its 3-grams (real notes do not repeat a sentence in hundreds of files)."""
    words = sentence.split()
    for j in range(rng.randint(0, 2), len(words), 3):
        words[j] = rng.choice(vocabulary)
    return " ".join(words)


def _near_copy(rng: random.Random, text: str) -> str:
    """The same note with one word in twenty replaced: a re-saved copy with small edits."""
    words = text.split(" ")
    for j in range(0, len(words), 20):
        words[j + rng.randint(0, 19) if j + 19 < len(words) else j] = "edited"
    return " ".join(words)
