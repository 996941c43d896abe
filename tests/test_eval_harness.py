from __future__ import annotations

import json
from pathlib import Path

from eval.compare import compare_runs
from eval.questions import load_questions
from eval.report import write_report
from eval.runner import run_questions, write_results
from service.pipeline.answering import Answerer
from service.pipeline.retriever import Retriever
from tests.fakes import ScriptedGenerator, fixed_answerability


def test_question_file_errors_are_reported_by_line_and_skipped(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    path.write_text(
        '{"id": "a", "question": "Q?", "answerable": true, "must_contain_any": ["x"], "unknown": 1}\n'
        "not json\n\n"
        '{"id": "b", "answerable": false}\n'
        '{"id": "c", "question": "Other?", "answerable": false, "kind": "factoid"}\n'
    )
    questions, errors = load_questions(path)
    assert [q.id for q in questions] == ["a", "c"]
    assert [(e.line, e.message.split(":")[0]) for e in errors] == [(2, "not JSON"), (4, "question")]


def _run(small_index, tmp_path: Path, reply: str, label: str, answers: bool = True) -> Path:  # type: ignore[no-untyped-def]
    store, embedder = small_index
    qa = Answerer(Retriever(store, embedder), ScriptedGenerator(reply), 3, fixed_answerability(answers))
    qfile = tmp_path / "q.jsonl"
    qfile.write_text(
        json.dumps({"id": "r", "question": "What is the formula for recall?", "answerable": True,
                    "reference_answer": "TP/(TP+FN)", "must_contain_any": ["TP/(TP+FN)"], "kind": "formula",
                    "evidence": "Recall = TP/(TP+FN)"}) + "\n"
        + json.dumps({"id": "u", "question": "How does a zeppelin fly?", "answerable": False,
                      "kind": "definition", "unanswerable_type": "absent"}) + "\n"
    )  # fmt: skip
    questions, _ = load_questions(qfile)
    out = tmp_path / label
    out.mkdir()
    results = run_questions(qa, questions, None, progress=False)
    write_results(results, out / "results.jsonl")
    write_report(results, out, label, {"reply": reply})
    return out


def test_eval_run_writes_results_metrics_and_reports(small_index, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = _run(small_index, tmp_path, "Recall is TP/(TP+FN) [1].", "good")
    lines = [json.loads(x) for x in (out / "results.jsonl").read_text().splitlines()]
    first = lines[0]
    assert {"id", "question", "answer", "abstained", "citations", "retrieved", "latency_ms"} <= set(first)
    assert first["retrieved"][0]["rank"] == 1 and "text" in first["retrieved"][0]
    assert set(first["latency_ms"]) == {"retrieve", "generate", "total"}
    m = json.loads((out / "metrics.json").read_text())["metrics"]
    assert m["questions"] == 2 and m["answerable"] == 1
    assert 0.0 <= m["hit@5"] <= 1.0
    report = (out / "report.md").read_text()
    assert "threshold_sweep.png" in report and (out / "threshold_sweep.png").stat().st_size > 1000
    assert "data:image/png;base64," in (out / "report.html").read_text()


def test_compare_shows_metric_diffs_and_flipped_questions(small_index, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    a = _run(small_index, tmp_path, "No answer found.", "before", answers=False)
    b = _run(small_index, tmp_path, "Recall is TP/(TP+FN) [1].", "after")
    text = compare_runs(a, b)
    assert "answer_correct" in text and "before" in text and "after" in text
    correct_row = next(line for line in text.splitlines() if line.startswith("answer_correct"))
    assert correct_row.split()[-1] == "+1.000"
    assert "r fixed: What is the formula for recall?" in text


def test_retrieval_metrics_read_the_deeper_ranking_not_only_the_passages_handed_to_the_generator() -> None:
    from eval.questions import Question
    from eval.runner import score
    from index.search import Hit
    from ingest.types import Chunk
    from service.pipeline.answering import Answer

    q = Question(id="x", question="Q?", answerable=True, reference_answer="e", must_contain_any=["e"], kind="factoid",
                 evidence="the evidence")  # fmt: skip
    hits = tuple(Hit(Chunk("f.md", "", i, i, f"passage {i}"), 0.5, i) for i in range(1, 5))
    answer = Answer("Q?", "no answer found", True, (), hits)
    ranking = [f"passage {i}" for i in range(1, 6)] + ["has the evidence here"]
    result = score(q, answer, ranking)
    assert result.retrieval_rank == 6  # found at rank 6 of 10, though not among the 4 passages generated from
    assert score(q, answer).retrieval_rank is None
