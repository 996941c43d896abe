"""The packaged model run by onnxruntime-genai as int4: decode about 8x faster than transformers fp32 on CPU.

The int4 model is built once, offline, from the safetensors cache (``packaged_models.converted_model_dir``)
by onnxruntime-genai's model builder, and cached beside it keyed by the GGUF's sha256: a different source
rebuilds, a failed build leaves nothing half-written.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ingest.embedder import ModelUnavailable
from service.generator import Prompt
from service.packaged_models import PackagedGguf, converted_model_dir, packaged_gguf

_MARKER = "notes-qa-source.json"


def onnx_model_dir(
    spec: PackagedGguf,
    cache_dir: Path,
    precision: str = "int4",
    log: Callable[[str], object] = lambda m: print(m, file=sys.stderr),
) -> Path:
    """A directory with the onnxruntime-genai model for ``spec``, building it on first use (about a minute)."""
    source = converted_model_dir(spec, cache_dir, log)
    source_id = json.loads((source / _MARKER).read_text())
    target = cache_dir / f"{spec.name}-onnx-{precision}"
    marker = target / _MARKER
    if marker.exists() and json.loads(marker.read_text()) == source_id:
        return target
    with tempfile.TemporaryDirectory(dir=cache_dir, prefix=".onnx-") as tmp:
        out = Path(tmp) / "model"
        log(f"building the {precision} onnxruntime-genai model of {spec.name} (one time, about a minute) ...")
        command = [sys.executable, "-m", "onnxruntime_genai.models.builder", "-i", str(source), "-o", str(out)]
        command += ["-p", precision, "-e", "cpu", "-c", str(Path(tmp) / "build-cache")]
        done = subprocess.run(
            command,
            env=_offline_env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
        )
        if done.returncode != 0 or not (out / "genai_config.json").exists():
            tail = (done.stderr or "").strip()[-800:]
            raise ModelUnavailable(f"building the onnx model of {spec.name} failed ({done.returncode}): {tail}")
        for name in ("tokenizer_config.json", "special_tokens_map.json", "vocab.json", "merges.txt"):
            if (source / name).exists() and not (out / name).exists():
                shutil.copy2(source / name, out / name)
        (out / _MARKER).write_text(json.dumps(source_id))
        if target.exists():
            shutil.rmtree(target)
        out.rename(target)
    return target


def _offline_env() -> dict[str, str]:
    # The builder imports transformers, which must never reach for a model hub here.
    return {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


class OnnxGenaiGenerator:
    """A packaged GGUF model as an int4 onnxruntime-genai model, run greedily on the CPU."""

    def __init__(self, model: str, cache_dir: Path, max_new_tokens: int = 160, precision: str = "int4") -> None:
        self.spec = packaged_gguf(model)
        self.name = model
        self.cache_dir = cache_dir
        self.max_new_tokens = max_new_tokens
        self.precision = precision
        self._model: Any = None
        self._tokenizer: Any = None
        self._chat: Any = None
        self._lock = threading.Lock()  # one generation at a time: the CPU has no room for two

    def warm_up(self) -> None:
        if self._model is not None:
            return
        try:
            import onnxruntime_genai as og
        except ImportError as exc:
            raise ModelUnavailable("onnxruntime-genai is not installed: pip install onnxruntime-genai") from exc
        from transformers import AutoTokenizer

        path = onnx_model_dir(self.spec, self.cache_dir, self.precision)
        # The chat template comes from the same tokenizer files the transformers backend uses: same prompt text.
        self._chat = AutoTokenizer.from_pretrained(str(path))
        self._model = og.Model(str(path))
        self._tokenizer = og.Tokenizer(self._model)

    def generate(self, prompt: Prompt) -> Iterator[str]:
        self.warm_up()
        import onnxruntime_genai as og

        messages = [{"role": "system", "content": prompt.system}, {"role": "user", "content": prompt.user}]
        text = self._chat.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        with self._lock:
            ids = self._tokenizer.encode(text)
            params = og.GeneratorParams(self._model)
            params.set_search_options(
                max_length=len(ids) + self.max_new_tokens, do_sample=False, repetition_penalty=1.05
            )
            generator = og.Generator(self._model, params)
            stream = self._tokenizer.create_stream()
            try:
                generator.append_tokens(ids)
                while not generator.is_done():
                    generator.generate_next_token()
                    piece = stream.decode(generator.get_next_tokens()[0])
                    if piece:
                        yield piece  # a consumer that stops early closes us here: decoding stops with it
            except Exception as exc:
                raise RuntimeError(f"generation failed: {exc}") from exc
            finally:
                del generator
