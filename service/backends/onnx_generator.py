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
from collections.abc import Callable, Iterator
from pathlib import Path

from ingest.types import ModelUnavailable
from service.backends.onnx_process import GenerationProcess
from service.backends.packaged_models import PackagedGguf, converted_model_dir, packaged_gguf
from service.pipeline.generation import Prompt

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
    """A packaged GGUF model as an int4 onnxruntime-genai model, run greedily on the CPU in a child process
    (``onnx_process``: the binding holds the GIL while it computes)."""

    def __init__(self, model: str, cache_dir: Path, max_new_tokens: int = 160, precision: str = "int4") -> None:
        self.spec = packaged_gguf(model)
        self.name = model
        self.cache_dir = cache_dir
        self.max_new_tokens = max_new_tokens
        self.precision = precision
        self._process: GenerationProcess | None = None

    def warm_up(self) -> None:
        if self._process is not None and self._process.alive:
            return
        try:
            import onnxruntime_genai  # noqa: F401  (checked here: the child would only report it later)
        except ImportError as exc:
            raise ModelUnavailable("onnxruntime-genai is not installed: pip install onnxruntime-genai") from exc
        path = onnx_model_dir(self.spec, self.cache_dir, self.precision)
        process = GenerationProcess(str(path), self.max_new_tokens)
        process.start()
        self._process = process

    @property
    def busy(self) -> bool:
        """Whether a generation holds the model now."""
        return self._process is not None and self._process.lock.locked()

    def choose(self, prompt: Prompt, options: int) -> list[float] | None:
        """Next-token probabilities of "0".."options" after one prefill (the generator as a selector)."""
        if self._process is None:
            self.warm_up()
        assert self._process is not None
        return self._process.choose(prompt, options)

    def generate(self, prompt: Prompt) -> Iterator[str]:
        if self._process is None:
            self.warm_up()
        assert self._process is not None
        yield from self._process.generate(prompt)  # a consumer that stops early closes us: the child stops too
