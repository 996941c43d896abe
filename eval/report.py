"""Write a run's metrics.json, report.md and report.html (with PNG plots embedded)."""

from __future__ import annotations

import base64
import html
import io
import json
from collections.abc import Sequence
from pathlib import Path

from eval import metrics
from eval.runner import Result
from eval.summary import by_kind, summarize

HEADLINE = [
    "hit@1", "hit@3", "hit@5", "hit@10", "mrr@10", "ndcg@10", "answer_correct", "answer_f1", "false_abstain",
    "noans_accuracy", "citation_validity", "unit_top1", "unit_top3", "overall_accuracy", "answer_words_max", "latency_p50_ms", "latency_p95_ms", "evidence_p50_ms",
    "evidence_p95_ms", "quoted_answers",
]  # fmt: skip


SWEEP_NOTE = (
    "The service answers when P(answerable) >= 0.5; the sweep shows what other cut-offs would have done on this "
    "set (a diagnostic: the cut-off is not chosen on the set that reports it). Questions below 0.5 were never "
    "generated, so lower cut-offs count them as wrong: the curve under 0.5 is a lower bound."
)


def sweep_rows(results: Sequence[Result]) -> list[tuple[float, float, float, float]]:
    """Accuracy against the answerability cut-off (questions below 0.5 have no answer to score)."""
    return metrics.threshold_sweep(
        [r.p_answerable if r.p_answerable is not None else 0.0 for r in results],
        [r.answerable for r in results],
        [r.correct if r.answerable else r.p_answerable is None for r in results],
    )  # fmt: skip


def write_report(results: Sequence[Result], out: Path, label: str, config: dict[str, object]) -> dict[str, object]:
    summary = summarize(results)
    kinds = by_kind(results)
    sweep = sweep_rows(results)
    data = {"label": label, "config": config, "metrics": summary, "by_kind": kinds,
            "best_cutoff": metrics.best_threshold(sweep)}  # fmt: skip
    (out / "metrics.json").write_text(json.dumps(data, indent=1))
    plots = _plots(results, kinds, sweep, out)
    (out / "report.md").write_text(_markdown(data, results, plots))
    (out / "report.html").write_text(_html(data, results, out, plots))
    return data


def _failures(results: Sequence[Result], limit: int = 10) -> list[Result]:
    wrong = [r for r in results if not r.correct]
    return sorted(wrong, key=lambda r: (r.answerable, r.max_score), reverse=True)[:limit]


def _markdown(data: dict[str, object], results: Sequence[Result], plots: list[str]) -> str:
    m: dict[str, object] = data["metrics"]  # type: ignore[assignment]
    lines = [f"# Eval report: {data['label']}", "", f"{m['questions']} questions ({m['answerable']} answerable, "
             f"{m['unanswerable']} unanswerable). Config: `{json.dumps(data['config'])}`", "",
             "| metric | value |", "| --- | --- |"]  # fmt: skip
    lines += [f"| {k} | {m.get(k)} |" for k in HEADLINE]
    lines += ["", f"Best answerability cut-off on this set: {data['best_cutoff']:.3f}. {SWEEP_NOTE}", "",
              "## By kind", "",
              "| kind | n | accuracy | hit@5 |", "| --- | --- | --- | --- |"]  # fmt: skip
    for kind, v in data["by_kind"].items():  # type: ignore[attr-defined]
        lines.append(f"| {kind} | {v['n']} | {v['accuracy']} | {v.get('hit@5', '')} |")
    lines += ["", *[f"![{p}]({p})" for p in plots], "", "## Worst failures", ""]
    for r in _failures(results):
        lines += [f"### {r.id} ({r.kind}, {'answerable' if r.answerable else 'unanswerable'})", "",
                  f"- question: {r.question}", f"- answer: {r.answer!r} (abstained: {r.abstained}, "
                  f"reason: {r.reason}, best cosine {r.max_score:.3f}, evidence rank {r.retrieval_rank})",
                  "- top passages:"]  # fmt: skip
        lines += [f"  {p['rank']}. `{p['file']}` {p['lines']} ({p['score']}): "
                  f"{' '.join(str(p['text']).split())[:160]}" for p in r.retrieved[:3]]  # fmt: skip
        lines.append("")
    return "\n".join(lines)


def _html(data: dict[str, object], results: Sequence[Result], out: Path, plots: list[str]) -> str:
    m: dict[str, object] = data["metrics"]  # type: ignore[assignment]
    rows = "".join(f"<tr><td>{html.escape(k)}</td><td>{m.get(k)}</td></tr>" for k in HEADLINE)
    images = "".join(
        f'<figure><img alt="{p}" src="data:image/png;base64,{base64.b64encode((out / p).read_bytes()).decode()}">'
        f"<figcaption>{p}</figcaption></figure>"
        for p in plots
    )
    fails = "".join(
        f"<li><b>{html.escape(r.id)}</b> {html.escape(r.question)}<br>answer: <q>{html.escape(r.answer)}</q>"
        f" — {html.escape(str(r.reason))}, best cosine {r.max_score:.3f}, evidence rank {r.retrieval_rank}</li>"
        for r in _failures(results)
    )
    return (
        "<!doctype html><html lang='en'><meta charset='utf-8'>"
        f"<title>notes-qa eval: {html.escape(str(data['label']))}</title>"
        "<style>body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}"
        "table{border-collapse:collapse}td{border:1px solid #ccc;padding:.2rem .6rem}img{max-width:100%}</style>"
        f"<h1>notes-qa eval: {html.escape(str(data['label']))}</h1><table>{rows}</table>"
        f"<p>Best answerability cut-off on this set: {data['best_cutoff']:.3f}. {SWEEP_NOTE}</p>{images}<h2>Worst failures</h2><ol>{fails}</ol>"
    )


def _plots(
    results: Sequence[Result],
    kinds: dict[str, dict[str, float | int | None]],
    sweep: Sequence[tuple[float, float, float, float]],
    out: Path,
) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = []
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ts = [r[0] for r in sweep]
    for i, label in ((1, "overall"), (2, "answer accuracy"), (3, "NoAns accuracy")):
        ax.plot(ts, [r[i] for r in sweep], label=label)
    ax.set(xlabel="answerability cut-off (P(answerable))", ylabel="accuracy", title="Threshold sweep")
    ax.legend()
    names.append(_save(fig, out, "threshold_sweep.png"))

    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.hist([r.max_score for r in results if r.answerable], bins=15, alpha=0.6, label="answerable")
    ax.hist([r.max_score for r in results if not r.answerable], bins=15, alpha=0.6, label="unanswerable")
    ax.set(xlabel="best passage cosine", ylabel="questions", title="Retrieval score by answerability")
    ax.legend()
    names.append(_save(fig, out, "score_histogram.png"))

    fig, ax = plt.subplots(figsize=(6, 3.5))
    labels = list(kinds)
    ax.barh(labels, [float(kinds[k]["accuracy"] or 0) for k in labels])
    ax.set(xlabel="accuracy", xlim=(0, 1), title="Accuracy by kind")
    fig.tight_layout()
    names.append(_save(fig, out, "by_kind.png"))
    return names


def _save(fig: object, out: Path, name: str) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")  # type: ignore[attr-defined]
    (out / name).write_bytes(buf.getvalue())
    import matplotlib.pyplot as plt

    plt.close(fig)  # type: ignore[arg-type]
    return name
