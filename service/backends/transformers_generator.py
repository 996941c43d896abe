"""The packaged model in torch with transformers (``generator_backend=transformers``)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from service.backends.packaged_models import converted_model_dir, packaged_gguf
from service.pipeline.generation import GeneratorUnavailable, Prompt


def resolve_dtype(dtype: str) -> str:
    """``auto``: bfloat16 only where the CPU has bf16 instructions. Elsewhere torch emulates bf16 and a prompt
    prefills about 3x slower than in float32 (measured on an AVX2-only EPYC: 24 s vs 7.5 s per question)."""
    if dtype != "auto":
        return dtype
    import torch

    native_bf16 = torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()
    return "bfloat16" if native_bf16 else "float32"


class TransformersGenerator:
    """A packaged GGUF model, converted once to a safetensors cache, run greedily on the CPU."""

    def __init__(
        self,
        model: str,
        cache_dir: Path,
        max_new_tokens: int = 160,
        dtype: str = "auto",
        threads: int | None = None,
    ) -> None:
        self.spec = packaged_gguf(model)
        self.name = model
        self.cache_dir = cache_dir
        self.max_new_tokens = max_new_tokens
        self.dtype = dtype
        self.threads = threads
        self._model: Any = None
        self._tokenizer: Any = None
        self._lock = threading.Lock()  # one generation at a time: the CPU has no room for two

    def warm_up(self) -> None:
        if self._model is not None:
            return
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if self.threads:
            torch.set_num_threads(self.threads)
        path = converted_model_dir(self.spec, self.cache_dir)
        self._tokenizer = AutoTokenizer.from_pretrained(str(path))
        model = AutoModelForCausalLM.from_pretrained(str(path), dtype=getattr(torch, resolve_dtype(self.dtype)))
        model.eval()
        self._model = model

    def generate(self, prompt: Prompt) -> Iterator[str]:
        self.warm_up()
        import torch
        from transformers import StoppingCriteria, StoppingCriteriaList, TextIteratorStreamer

        messages = [{"role": "system", "content": prompt.system}, {"role": "user", "content": prompt.user}]
        text = self._tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        inputs = self._tokenizer(text, return_tensors="pt")
        streamer = TextIteratorStreamer(self._tokenizer, skip_prompt=True, skip_special_tokens=True)
        cancelled = threading.Event()

        class _Cancel(StoppingCriteria):
            def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> bool:
                return cancelled.is_set()

        errors: list[BaseException] = []

        def run() -> None:
            try:
                with torch.inference_mode():
                    self._model.generate(
                        **inputs,
                        max_new_tokens=self.max_new_tokens,
                        do_sample=False,
                        temperature=None,
                        top_p=None,
                        top_k=None,
                        repetition_penalty=1.05,
                        streamer=streamer,
                        stopping_criteria=StoppingCriteriaList([_Cancel()]),
                        pad_token_id=self._tokenizer.eos_token_id,
                    )
            except BaseException as exc:
                errors.append(exc)
                streamer.end()

        with self._lock:
            worker = threading.Thread(target=run, daemon=True)
            worker.start()
            try:
                yield from streamer
            finally:
                cancelled.set()  # the consumer stopped early (client went away): stop decoding
                worker.join()
        if errors:
            raise GeneratorUnavailable(f"generation failed: {errors[0]}", "the local generator failed") from errors[0]
