"""The bench's PNG plots (matplotlib, headless)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def draw(results: dict[str, Any], out_dir: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    rows = results.get("index_scaling") or []
    if rows:
        fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4))
        for m in sorted({r["m"] for r in rows}):
            for ef in sorted({r["ef_search"] for r in rows if r["m"] == m}):
                sel = [r for r in rows if r["m"] == m and r["ef_search"] == ef]
                a.plot([r["size"] for r in sel], [r["search"]["p50_ms"] for r in sel], "o-", label=f"M={m} ef={ef}")
                b.plot([r["size"] for r in sel], [r["recall@10"] for r in sel], "o-", label=f"M={m} ef={ef}")
        sizes = sorted({r["size"] for r in rows})
        numpy_ms = [next(r["numpy"]["p50_ms"] for r in rows if r["size"] == s) for s in sizes]
        a.plot(sizes, numpy_ms, "k--", label="numpy exact")
        for ax, label in ((a, "search p50 (ms)"), (b, "recall@10")):
            ax.set_xscale("log")
            ax.set_xlabel("vectors")
            ax.set_ylabel(label)
            ax.legend(fontsize=7)
        a.set_yscale("log")
        fig.tight_layout()
        paths.append(out_dir / "index_scaling.png")
        fig.savefig(paths[-1], dpi=110)
        plt.close(fig)
    gen = results.get("generation") or []
    if gen:
        fig, ax = plt.subplots(figsize=(5, 3.5))
        for backend in sorted({g["backend"] for g in gen}):
            sel = [g for g in gen if g["backend"] == backend and g["ttft_p50_ms"] is not None]
            ax.plot([g["prompt_tokens"] for g in sel], [g["ttft_p50_ms"] / 1000 for g in sel], "o-", label=backend)
        ax.set_xlabel("prompt tokens")
        ax.set_ylabel("time to first token (s)")
        ax.legend(fontsize=7)
        fig.tight_layout()
        paths.append(out_dir / "generation.png")
        fig.savefig(paths[-1], dpi=110)
        plt.close(fig)
    ingest = results.get("ingest") or []
    if ingest:
        fig, ax = plt.subplots(figsize=(6, 3.5))
        labels = [f"{r['chunks']:,} chunks\n{r['embedder']}" for r in ingest]
        left = [0.0] * len(ingest)
        for stage in ingest[0]["stages"]:
            widths = [r["stages"].get(stage, {}).get("seconds", 0.0) for r in ingest]
            ax.barh(labels, widths, left=left, label=stage)
            left = [x + w for x, w in zip(left, widths, strict=True)]
        ax.set_xlabel("seconds")
        ax.legend(fontsize=7, ncol=4)
        fig.tight_layout()
        paths.append(out_dir / "ingest.png")
        fig.savefig(paths[-1], dpi=110)
        plt.close(fig)
    return paths
