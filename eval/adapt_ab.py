"""`python -m eval.adapt_ab QUESTIONS.jsonl PACKAGED_INDEX ADAPTED_INDEX --out FILE.json`: does an adapted index
change generation time? The first 16 answerable questions answered on the packaged index, the adapted one, then
the packaged one again, back to back in one process (machine drift shows as a packaged/packaged gap): the median
generation time and the mean evidence characters (the prompt's length) of the answers that were not abstentions."""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

from eval.questions import load_questions
from service.backends.components import build_answerer
from service.backends.settings import Settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.adapt_ab")
    parser.add_argument("questions", type=Path)
    parser.add_argument("packaged", type=Path)
    parser.add_argument("adapted", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--n", type=int, default=16)
    args = parser.parse_args(argv)
    questions = [q.question for q in load_questions(args.questions)[0] if q.answerable][: args.n]
    rows = []
    for name, index in (("packaged", args.packaged), ("adapted", args.adapted), ("packaged again", args.packaged)):
        answerer = build_answerer(Settings(index_path=index))
        answerer.warm_up()
        answers = [a for a in (answerer.answer(q) for q in questions) if not a.abstained]
        rows.append({
            "index": name,
            "answered": len(answers),
            "generate_p50_ms": round(statistics.median(a.timings_ms["generate"] for a in answers)),
            "evidence_chars_mean": round(statistics.mean(sum(len(e.unit.text) for e in a.evidence) for a in answers)),
        })  # fmt: skip
        print(rows[-1], file=sys.stderr)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps({"questions": args.questions.name, "n": len(questions), "runs": rows}, indent=1) + "\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
