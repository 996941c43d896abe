"""Fine-tune the packaged bi-encoder on (question, passage) and (question, unit) pairs: `notes-qa adapt`'s training.

MultipleNegativesRankingLoss (in-batch negatives) from the packaged all-MiniLM-L6-v2 weights, one epoch, learning
rate 2e-5 with a 10 % warm-up and linear decay, batch 16: a small step from a competent start, fixed before any run
(eval/adapt_trial.py measured it). The model is written under a temporary name and renamed when complete, so a
killed run leaves no half model behind."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

from ingest.embedder import packaged_minilm_path
from service.backends.adapt_pairs import PairRecord

EPOCHS, LEARNING_RATE, BATCH = 1, 2e-5, 16
RECIPE = {"loss": "MultipleNegativesRankingLoss", "epochs": EPOCHS, "learning_rate": LEARNING_RATE, "batch": BATCH}


def fine_tune(
    base: Path | None,
    pairs: Sequence[PairRecord],
    out: Path,
    on_step: Callable[[int, int, float], None] = lambda step, steps, loss: None,
) -> Path:
    """Train from ``base`` (default: the packaged model) on ``pairs`` and save a sentence-transformers model at
    ``out``. ``on_step(step, steps, loss)`` after every batch (a progress bar)."""
    import torch
    from sentence_transformers import SentenceTransformer

    try:  # sentence-transformers 6 moved the losses; 3-5 have them here
        from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss
    except ImportError:
        from sentence_transformers.losses import MultipleNegativesRankingLoss

    torch.manual_seed(0)
    model = SentenceTransformer(str(base or packaged_minilm_path()), device="cpu", local_files_only=True)
    loss = MultipleNegativesRankingLoss(model)
    features = getattr(model, "preprocess", None) or model.tokenize  # renamed in sentence-transformers 6
    batches = [list(pairs[i : i + BATCH]) for i in range(0, len(pairs), BATCH)] * EPOCHS
    optimizer = torch.optim.AdamW(model.parameters(), lr=LEARNING_RATE)
    warmup = max(1, len(batches) // 10)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: min(1.0, (step + 1) / warmup) * max(0.0, 1 - step / len(batches))
    )
    model.train()
    for step, batch in enumerate(batches):
        questions = features([p.question or "" for p in batch])
        total = torch.zeros(())
        for texts in ([p.passage for p in batch], [p.unit_text for p in batch]):
            total = total + loss([questions, features(texts)], torch.zeros(len(batch)))
        optimizer.zero_grad()
        total.backward()
        optimizer.step()
        schedule.step()
        on_step(step + 1, len(batches), float(total.detach()))
    model.eval()
    tmp = out.with_name(f".tmp-{out.name}-{uuid.uuid4().hex[:6]}")
    try:
        model.save(str(tmp))
        tmp.rename(out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out
