"""The server's heap settings (their effect on RSS is measured by `make bench`: serving RSS before/after load)."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_freed_blocks_go_back_to_the_system() -> None:
    # In a fresh process: free a big block (glibc then raises its mmap threshold), then make and free many 1 MiB
    # blocks with small live objects between them; the heap keeps those pages unless the thresholds are fixed.
    script = """
import sys
from service.backends.heap import return_freed_memory_promptly
def rss(): return int(open('/proc/self/statm').read().split()[1]) * 4096
if sys.argv[1] == "fixed":
    assert return_freed_memory_promptly()
big = bytearray(b"x") * (16 << 20); del big
before = rss()
blocks, keep = [], []
for i in range(200):
    blocks.append(bytearray(b"x") * (1 << 20)); keep.append(bytearray(b"y") * 600)
blocks.clear()
print((rss() - before) >> 20)
"""
    grown = {
        mode: int(
            subprocess.run([sys.executable, "-c", script, mode], capture_output=True, text=True, check=True).stdout
        )
        for mode in ("default", "fixed")
    }
    assert grown["fixed"] < 20 <= grown["default"], grown
