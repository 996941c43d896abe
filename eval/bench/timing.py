"""Repeated timings summarised as median and 95th percentile, and the machine they were taken on."""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Timing:
    p50_ms: float
    p95_ms: float
    n: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def summarise(seconds: list[float]) -> Timing:
    ms = np.array(seconds) * 1000
    return Timing(round(float(np.percentile(ms, 50)), 3), round(float(np.percentile(ms, 95)), 3), len(ms))


def time_each(fn: Callable[[Any], object], inputs: list[Any], warmup: int = 3) -> Timing:
    """Call ``fn`` once per input (after ``warmup`` untimed calls) and summarise the per-call times."""
    for item in inputs[:warmup]:
        fn(item)
    seconds = []
    for item in inputs:
        started = time.perf_counter()
        fn(item)
        seconds.append(time.perf_counter() - started)
    return summarise(seconds)


def machine() -> dict[str, Any]:
    """CPU model, cores and the vector instructions that matter here (AVX2, AVX-512, bf16/AMX)."""
    model, flags = platform.processor() or "unknown", set()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                elif line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    wanted = ["avx2", "fma", "avx512f", "avx512_bf16", "amx_tile"]
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "flags": [f for f in wanted if f in flags],
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()}",
    }
