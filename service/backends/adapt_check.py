"""`notes-qa adapt`'s check before serving an adapted embedder: held-out generated questions and traps, searched
exactly (dense) in the served version and in the adapted one."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from index.store import Snapshot
from ingest.embedder import Embedder
from service.backends.adapt_pairs import PairRecord

AUC_SLACK = 0.02


def retrieval_check(
    embedder: Embedder, snapshot: Snapshot, held: Sequence[PairRecord], traps: Sequence[str]
) -> dict[str, Any]:
    """Exact dense search in ``snapshot``: held-out questions' passages at rank 1 and in the top 5, and how well
    the best cosine tells a held-out question from a trap (AUC; None without traps)."""
    vectors = snapshot.index.vectors(list(range(len(snapshot.chunks))))
    where = {(c.file, c.start_line): row for row, c in enumerate(snapshot.chunks)}
    scores = embedder.embed([r.question or "" for r in held]) @ vectors.T
    ranks = []
    for r, row_scores in zip(held, scores, strict=True):
        row = where.get((r.file, r.start_line))
        ranks.append(None if row is None else int((row_scores > row_scores[row]).sum()) + 1)
    out: dict[str, Any] = {
        "hit@1": round(float(np.mean([k == 1 for k in ranks])), 4),
        "hit@5": round(float(np.mean([k is not None and k <= 5 for k in ranks])), 4),
        "auc": None,
        "n_held_out": len(held),
        "n_traps": len(traps),
    }
    if traps:
        trap_best = (embedder.embed(list(traps)) @ vectors.T).max(axis=1)
        best = scores.max(axis=1)
        out["auc"] = round(float(np.mean([(b > t) + 0.5 * (b == t) for b in best for t in trap_best])), 4)
    return out


def verdict(packaged: dict[str, Any], adapted: dict[str, Any]) -> tuple[bool, str]:
    """Serve the adapted model only if held-out hit@1 does not fall at all, and trap separation (AUC) does not fall
    by more than its noise: ``AUC_SLACK`` or one standard error (Hanley & McNeil 1982), whichever is larger
    (with a handful of traps one pair decides a few hundredths)."""
    if adapted["hit@1"] < packaged["hit@1"]:
        return False, f"held-out hit@1 fell ({packaged['hit@1']} -> {adapted['hit@1']})"
    before, after = packaged["auc"], adapted["auc"]
    if before is not None and after is not None:
        slack = max(AUC_SLACK, auc_standard_error(before, packaged["n_held_out"], packaged["n_traps"]))
        if after < before - slack:
            return False, f"traps separated worse (AUC {before} -> {after}, noise {slack:.3f})"
    return True, f"held-out hit@1 {packaged['hit@1']} -> {adapted['hit@1']}, trap AUC {before} -> {after}"


def auc_standard_error(auc: float, n_positive: int, n_negative: int) -> float:
    q1, q2 = auc / (2 - auc), 2 * auc * auc / (1 + auc)
    variance = (auc * (1 - auc) + (n_positive - 1) * (q1 - auc * auc) + (n_negative - 1) * (q2 - auc * auc)) / max(
        1, n_positive * n_negative
    )
    return float(np.sqrt(max(0.0, variance)))
