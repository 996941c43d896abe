"""`python -m eval.adapt_trial QUESTIONS.jsonl --work DIR --out DIR`: per-vault adaptation, tried (issue 27, part 3).

The InPars/Promptagator recipe on the served vault (``NOTES_QA_INDEX_PATH``), with no label of QUESTIONS used:

1. **questions** — sample answer units (at most one per passage, so a batch never holds two positives of one
   passage), and let the generator write the question each answers; keep a question only when retrieval finds its
   unit's passage in the top 5 (the consistency filter). Resumable: ``DIR/pairs.jsonl`` grows one unit at a time and
   a second run skips the units done. ``--budget-minutes`` bounds this stage.
2. **train** — fine-tune the packaged bi-encoder from its weights on (question, passage) and (question, unit) with
   MultipleNegativesRankingLoss (in-batch negatives), one epoch, learning rate 2e-5, batch 16: fixed before any run.
3. **index** — re-embed the vault with the adapted model into ``DIR/index`` (a new vector space: its own index).
4. **measure** — on QUESTIONS, packaged vs adapted embedder: retrieval hit@1/5 and unit top-1/top-3 of plain cosine
   and of the shipped reader (no generation). Seconds per stage and the pair counts go to ``OUT/metrics.json``.

A trial, not a command: ``notes-qa adapt`` ships only if this beats the reader on a vault it was never tuned on."""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from eval.questions import load_questions
from eval.reader_cv import top
from eval.unit_examples import examples
from ingest.types import AnswerUnit
from service.backends.components import build_answerer
from service.backends.ingesting import ingest_and_report
from service.backends.settings import Settings
from service.pipeline.generation import Prompt

SYSTEM = (
    "You read one passage of a person's notes and write the one question it answers, as that person would ask it. "
    "Reply with the question only."
)
MIN_WORDS, MAX_WORDS, FOUND_IN = 4, 30, 5
EPOCHS, LEARNING_RATE, BATCH = 1, 2e-5, 16
RECIPE = {"loss": "MultipleNegativesRankingLoss", "epochs": EPOCHS, "learning_rate": LEARNING_RATE, "batch": BATCH,
          "filter": f"the unit's passage in retrieval's top {FOUND_IN}"}  # fmt: skip


def question_from(reply: str) -> str | None:
    """The generated question, or None when the reply is not one short question."""
    for line in reply.strip().splitlines():
        line = line.strip().strip('"*').removeprefix("Question:").strip().strip('"*')
        if not line:
            continue
        if "?" not in line:
            return None
        line = line[: line.index("?") + 1]
        return line if MIN_WORDS <= len(line.split()) <= MAX_WORDS else None
    return None


def sample_units(snapshot: Any, n: int, seed: int = 0) -> list[tuple[int, int]]:
    """(passage row, unit index) of ``n`` units of at least six words, one per passage."""
    rows = list(range(len(snapshot.chunks)))
    random.Random(seed).shuffle(rows)
    picked = []
    for row in rows:
        units, _ = snapshot.units_of(row)
        usable = [i for i, u in enumerate(units) if len(u.text.split()) >= 6]
        if usable:
            picked.append((row, random.Random(seed + row).choice(usable)))
        if len(picked) == n:
            break
    return picked


def make_pairs(settings: Settings, work: Path, n: int, budget_s: float) -> dict[str, int]:
    answerer = build_answerer(settings)
    answerer.retriever.warm_up()
    answerer.generator.warm_up()
    snapshot = answerer.retriever.snapshot()
    path = work / "pairs.jsonl"
    done = {(r["row"], r["unit"]) for r in _read(path)}
    started = time.perf_counter()
    with path.open("a") as out:
        for row, index in sample_units(snapshot, n):
            if (row, index) in done:
                continue
            if time.perf_counter() - started > budget_s:
                print(f"budget spent after {len(done)} units", file=sys.stderr)
                break
            chunk = snapshot.chunks[row]
            unit: AnswerUnit = chunk.units[index]
            prompt = Prompt(
                SYSTEM, f"Note: {chunk.heading or chunk.file}\nPassage:\n{unit.display()[:700]}\n\nQuestion:"
            )
            question = question_from("".join(answerer.generator.generate(prompt)))
            found = False
            if question:
                vector = answerer.retriever.embedder.embed([question])[0]
                hits = answerer.retriever.search_vector(question, vector, FOUND_IN, None, snapshot)
                found = row in {h.row for h in hits}
            record = {"row": row, "unit": index, "question": question, "kept": found,
                      "passage": chunk.passage(), "unit_text": unit.display()}  # fmt: skip
            out.write(json.dumps(record) + "\n")
            out.flush()
            done.add((row, index))
            print(f"{len(done)}/{n} {'kept' if found else 'dropped'}: {question}", file=sys.stderr)
    rows = _read(path)
    return {
        "units": len(rows),
        "questions": sum(bool(r["question"]) for r in rows),
        "kept": sum(r["kept"] for r in rows),
    }


def train(base: Path | None, pairs: list[dict[str, Any]], out: Path) -> None:
    import torch
    from sentence_transformers import SentenceTransformer, losses

    from ingest.embedder import packaged_minilm_path

    torch.manual_seed(0)
    model = SentenceTransformer(str(base or packaged_minilm_path()), device="cpu", local_files_only=True)
    loss = losses.MultipleNegativesRankingLoss(model)
    batches = [pairs[i : i + BATCH] for i in range(0, len(pairs), BATCH)] * EPOCHS
    optimizer = torch.optim.AdamW(model.parameters(), lr=LEARNING_RATE)
    warmup = max(1, len(batches) // 10)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: min(1.0, (step + 1) / warmup) * max(0.0, 1 - step / len(batches))
    )
    model.train()
    for step, batch in enumerate(batches):
        questions = model.tokenize([p["question"] for p in batch])
        total = torch.zeros(())
        for key in ("passage", "unit_text"):
            total = total + loss([questions, model.tokenize([p[key] for p in batch])], torch.zeros(len(batch)))
        optimizer.zero_grad()
        total.backward()
        optimizer.step()
        schedule.step()
        print(f"step {step + 1}/{len(batches)} loss {float(total):.3f}", file=sys.stderr)
    model.eval()
    model.save(str(out))


def measure(settings: Settings, questions: list[Any]) -> dict[str, float]:
    answerer = build_answerer(settings)
    answerer.retriever.warm_up()
    ranks = [q.evidence_rank([h.chunk.passage() for h in answerer.search(q.question, 10)])
             for q in questions if q.answerable and q.evidences]  # fmt: skip
    found = examples(answerer, questions, settings.top_k)
    cosine = top(found, lambda e: e.found.cosine)
    reader = top(found, lambda e: answerer.reader.scores(e.x))
    return {
        "hit@1": round(float(np.mean([r is not None and r <= 1 for r in ranks])), 4),
        "hit@5": round(float(np.mean([r is not None and r <= 5 for r in ranks])), 4),
        "cosine_unit_top1": round(cosine[0], 4),
        "cosine_unit_top3": round(cosine[1], 4),
        "reader_unit_top1": round(reader[0], 4),
        "reader_unit_top3": round(reader[1], 4),
    }


def _read(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.adapt_trial")
    parser.add_argument("questions", type=Path, help="labelled questions to measure on (never used to adapt)")
    parser.add_argument("--work", type=Path, required=True, help="pairs, adapted model and index (resumable)")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--units", type=int, default=400, help="units to write questions for")
    parser.add_argument("--budget-minutes", type=float, default=40.0, help="bound on question writing")
    args = parser.parse_args(argv)
    settings = Settings()
    args.work.mkdir(parents=True, exist_ok=True)
    seconds: dict[str, float] = {}

    started = time.perf_counter()
    counts = make_pairs(settings, args.work, args.units, args.budget_minutes * 60)
    seconds["questions"] = time.perf_counter() - started
    kept = [p for p in _read(args.work / "pairs.jsonl") if p["kept"]]
    if len(kept) < BATCH:
        print(f"error: only {len(kept)} questions kept; nothing to train on", file=sys.stderr)
        return 1

    started = time.perf_counter()
    model_dir = args.work / "model"
    if not (model_dir / "modules.json").exists():
        train(settings.embedder_path, kept, model_dir)
    seconds["train"] = time.perf_counter() - started

    adapted = settings.model_copy(update={"embedder_path": model_dir, "embedder_backend": "torch",
                                          "embedder_name": f"adapted:{args.work.name}",
                                          "index_path": args.work / "index"})  # fmt: skip
    served = build_answerer(settings).retriever
    served.warm_up()
    notes_root = Path(served.manifest.notes_root or settings.notes_dir)
    started = time.perf_counter()
    ingest_and_report(adapted, notes_root, quiet=True)
    seconds["index"] = time.perf_counter() - started

    questions, _ = load_questions(args.questions)
    started = time.perf_counter()
    data = {
        "questions": args.questions.name,
        "vault": notes_root.name,
        "pairs": counts,
        "recipe": RECIPE,
        "packaged": measure(settings, questions),
        "adapted": measure(adapted, questions),
    }
    seconds["measure"] = time.perf_counter() - started
    data["seconds"] = {k: round(v, 1) for k, v in seconds.items()}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "metrics.json").write_text(json.dumps(data, indent=1) + "\n")
    print(json.dumps(data, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
