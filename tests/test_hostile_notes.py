"""Hostile notes folders: every odd file is reported with its outcome, nothing crashes, nothing outside the notes
root is read, and a failed ingest leaves the previous index served."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from index.build import IngestConfig, run_ingest
from index.store import IndexStore, IndexWriteFailed
from ingest.pipeline import IngestError, IngestReport
from tests.fakes import HashEmbedder

SECRET = "TOPSECRET outside the notes root"


def ingest(folder: Path, store_dir: Path, **config: object) -> IngestReport:
    return run_ingest(folder, IndexStore(store_dir), HashEmbedder(), IngestConfig(**config))  # type: ignore[arg-type]


def outcomes(report: IngestReport) -> dict[str, tuple[str, str]]:
    return {f.path: (f.status, f.reason) for f in report.files}


def indexed_text(store_dir: Path) -> str:
    return "\n".join(c.text for c in IndexStore(store_dir).load().chunks)


@pytest.fixture
def vault(tmp_path: Path) -> Path:
    """A notes folder full of traps, next to a folder it must not read."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.md").write_text(f"# Secret\n\n{SECRET}\n")
    root = tmp_path / "notes"
    root.mkdir()
    (root / "good.md").write_text("# Good\n\nGradient descent follows the negative gradient.\n")
    (root / "link-out.md").symlink_to(outside / "secret.md")  # 1: a link leaving the root
    (root / "linked-folder").symlink_to(outside, target_is_directory=True)  # 2: a linked folder
    (root / "link-in.md").symlink_to(root / "good.md")  # 3: a link inside the root: fine
    (root / "dangling.md").symlink_to(root / "missing.md")  # 4: a broken link
    (root / "loop-a.md").symlink_to(root / "loop-b.md")  # 5: a link loop
    (root / "loop-b.md").symlink_to(root / "loop-a.md")
    (root / "late-nul.md").write_bytes(b"# Late NUL\n\n" + b"text " * 3000 + b"\x00 binary tail\n")  # 6
    (root / "windows.md").write_bytes("# Café\n\nThe naïve Bayes classifier costs 5 €.\n".encode("cp1252"))  # 7
    (root / "utf16.txt").write_bytes("Wörterbuch notes\n\nAn embedding maps words to vectors.\n".encode("utf-16"))  # 8
    (root / "one-line.md").write_text("# Blob\n\n" + "z" * 4_000_000 + "\n")  # 9: a 4 MB line, no spaces
    (root / "unreadable.md").write_text("# Locked\n\nNot for you.\n")  # 10 (made unreadable in the test)
    (root / "bad-yaml.md").write_text("---\ntitle: [unclosed\n  : : x\n---\n# Body\n\nYAML broke, body kept.\n")  # 11
    (root / "bad-toml.md").write_text("+++\ntitle = = broken\n+++\n# Body\n\nTOML broke, body kept.\n")  # 12
    (root / "fence.md").write_text("# Code\n\n```python\nprint('never closed')\n\nText after the fence.\n")  # 13
    (root / "huge.md").write_text("# Huge\n\n" + "word " * 900_000)  # 14: over max_file_bytes below
    (root / "empty.md").write_text("")  # 15
    (root / "blank.txt").write_text(" \n\t\n")  # 16
    (root / "only-front-matter.md").write_text("---\ntitle: nothing else\n---\n")  # 17
    (root / "folder.md").mkdir()  # 18: a folder with a note's name
    deep = root.joinpath(*[f"d{i}" for i in range(40)])  # 19: deep nesting
    deep.mkdir(parents=True)
    (deep / "deep.md").write_text("# Deep\n\nFound at depth forty.\n")
    (root / ".obsidian").mkdir()  # 20: hidden folders are app state, not notes
    (root / ".obsidian" / "workspace.md").write_text("# Workspace\n\nhidden\n")
    (root / "odd name ünïcode ✓.md").write_text("# Odd\n\nA file name with spaces and accents.\n")  # 21
    return root


def test_every_hostile_file_is_reported_and_nothing_leaks(vault: Path, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    real_read_bytes = Path.read_bytes

    def read_bytes(self: Path) -> bytes:  # root reads any file: simulate a permission error for one
        if self.name == "unreadable.md":
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        return real_read_bytes(self)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    report = ingest(vault, tmp_path / "index", max_file_bytes=4_100_000)
    got = outcomes(report)
    skipped = {path: reason for path, (status, reason) in got.items() if status == "skipped"}
    assert "outside the notes folder" in skipped["link-out.md"]
    assert "linked folder" in skipped["linked-folder"]
    assert "broken link" in skipped["dangling.md"]
    assert "broken link" in skipped["loop-a.md"] and "broken link" in skipped["loop-b.md"]
    assert skipped["late-nul.md"].startswith("binary (a NUL byte at offset 15,0")
    assert skipped["unreadable.md"] == "unreadable (Permission denied)"
    assert skipped["huge.md"].startswith("too large")
    assert skipped["empty.md"] == "empty" and skipped["blank.txt"] == "empty"
    assert skipped["only-front-matter.md"] == "empty after cleaning"
    indexed = {f.path: f for f in report.files if f.status == "indexed"}
    for name in ("good.md", "link-in.md", "windows.md", "utf16.txt", "one-line.md", "bad-yaml.md", "bad-toml.md",
                 "fence.md", "odd name ünïcode ✓.md", "/".join(f"d{i}" for i in range(40)) + "/deep.md"):  # fmt: skip
        assert name in indexed, (name, got.get(name))
    assert indexed["windows.md"].encoding == "cp1252" and indexed["utf16.txt"].encoding == "utf-16"
    assert not [f for f in report.files if f.status == "failed"]
    assert not any(p.startswith((".obsidian", "linked-folder/", "folder.md")) for p in got)

    text = indexed_text(tmp_path / "index")
    assert SECRET not in text and "binary tail" not in text
    assert "The naïve Bayes classifier costs 5 €." in text and "Wörterbuch" in text
    assert "YAML broke, body kept." in text and "TOML broke, body kept." in text
    assert "Text after the fence." in text and "Found at depth forty." in text
    chunks = IndexStore(tmp_path / "index").load().chunks
    blob = [c for c in chunks if c.file == "one-line.md" and "zzz" in c.text]
    assert len(blob) > 4000 and max(len(c.text) for c in blob) <= IngestConfig().chunking.max_chars
    assert all(c.start_line == c.end_line == 3 for c in blob)  # every piece cites the one line it came from


def test_ten_thousand_tiny_files(tmp_path: Path) -> None:
    root = tmp_path / "many"
    root.mkdir()
    for i in range(10_000):
        (root / f"n{i:05d}.md").write_text(f"# Note {i}\n\nFact number {i} is {i * 7 % 1013} apples.\n")
    report = ingest(root, tmp_path / "index")
    assert sum(f.status == "indexed" for f in report.files) == 10_000 and report.chunks_indexed == 10_000


def test_an_empty_folder_keeps_the_previous_index(tmp_path: Path) -> None:
    root = tmp_path / "notes"
    root.mkdir()
    (root / "a.md").write_text("# A\n\nSomething worth keeping.\n")
    store_dir = tmp_path / "index"
    first = ingest(root, store_dir).version
    (root / "a.md").unlink()
    with pytest.raises(IngestError, match="no indexable notes"):
        ingest(root, store_dir)
    assert IndexStore(store_dir).current_version() == first
    assert "Something worth keeping." in indexed_text(store_dir)


def test_disk_full_while_writing_keeps_the_previous_version(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    root = tmp_path / "notes"
    root.mkdir()
    (root / "a.md").write_text("# A\n\nThe first version.\n")
    store_dir = tmp_path / "index"
    first = ingest(root, store_dir).version
    (root / "b.md").write_text("# B\n\nA second note that will not fit.\n")

    def full(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("index.store.np.save", full)
    with pytest.raises(IndexWriteFailed, match=r"No space left on device.*previous version is still served"):
        ingest(root, store_dir)
    store = IndexStore(store_dir)
    assert store.current_version() == first and "The first version." in indexed_text(store_dir)
    assert not list((store_dir / "versions").glob(".tmp-*"))  # nothing half-written left behind
    monkeypatch.undo()
    assert ingest(root, store_dir).version != first  # space back: the next ingest works


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode (the monkeypatched test covers it)")
def test_a_file_without_read_permission(tmp_path: Path) -> None:
    root = tmp_path / "notes"
    root.mkdir()
    (root / "ok.md").write_text("# Ok\n\nReadable.\n")
    locked = root / "locked.md"
    locked.write_text("# Locked\n\nNo.\n")
    locked.chmod(0)
    try:
        assert outcomes(ingest(root, tmp_path / "index"))["locked.md"] == ("skipped", "unreadable (Permission denied)")
    finally:
        locked.chmod(0o644)
