"""Generation per backend: time to first token and decoding speed for prompts of about 200, 500 and 1,000 tokens
(prefill dominates an answer: the prompt length is the latency lever)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from ingest.reading import find_notes, read_note
from service.pipeline.generation import Generator, Prompt


def prompts(tokenizer: Any, notes_dir: Path, sizes: list[int]) -> dict[int, Prompt]:
    """Prompts whose chat-formatted length is each size (in the model's tokens), cut from the notes' own text."""
    text = " ".join(read_note(notes_dir, p, 10**8).text for p in find_notes(notes_dir))
    ids = tokenizer(text)["input_ids"]
    question = "Summarise what these notes say, in three sentences."
    overhead = prompt_tokens(tokenizer, Prompt(system="Notes:\n", user=question))
    return {
        size: Prompt(system=f"Notes:\n{tokenizer.decode(ids[: max(size - overhead, 1)])}", user=question)
        for size in sizes
    }


def prompt_tokens(tokenizer: Any, prompt: Prompt) -> int:
    messages = [{"role": "system", "content": prompt.system}, {"role": "user", "content": prompt.user}]
    return len(
        tokenizer(tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True))["input_ids"]
    )


def run(generator: Generator, tokenizer: Any, notes_dir: Path, sizes: list[int], repeats: int, log: Any = print
        ) -> list[dict[str, Any]]:  # fmt: skip
    generator.warm_up()
    rows = []
    for prompt in prompts(tokenizer, notes_dir, sizes).values():
        first, rates = [], []
        for _ in range(repeats):
            started = time.perf_counter()
            first_at, pieces = None, 0
            for _piece in generator.generate(prompt):
                if first_at is None:
                    first_at = time.perf_counter()
                pieces += 1
            ended = time.perf_counter()
            if first_at is None:
                continue
            first.append((first_at - started) * 1000)
            if pieces > 1 and ended > first_at:
                rates.append((pieces - 1) / (ended - first_at))
        row = {
            "backend": generator.name,
            "prompt_tokens": prompt_tokens(tokenizer, prompt),
            "ttft_p50_ms": round(float(np.median(first)), 1) if first else None,
            "ttft_p95_ms": round(float(np.percentile(first, 95)), 1) if first else None,
            "decode_tokens_per_s": round(float(np.median(rates)), 1) if rates else None,
            "repeats": repeats,
        }
        rows.append(row)
        log(f"  generation {generator.name} {row['prompt_tokens']:>5} prompt tokens: first token p50 {row['ttft_p50_ms']} ms, "
            f"decoding {row['decode_tokens_per_s']} tokens/s")  # fmt: skip
    return rows
