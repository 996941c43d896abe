"""Issue 5's acceptance: two API processes serve one index directory; a re-ingest swaps in a new version while a
client loop hits both, with no failed request, and both end up serving the new version (no restart)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import pytest

from tests.conftest import REPO
from tests.servers import free_port

pytestmark = pytest.mark.slow
QUESTION = {"question": "What is the name of the lab's zebrafish?", "top_k": 3}


def env_for(tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "NOTES_QA_NOTES_DIR": str(tmp_path / "notes"),
        "NOTES_QA_INDEX_PATH": str(tmp_path / "index"),
        "NOTES_QA_MODEL_CACHE_PATH": str(REPO / ".notes-qa" / "models"),
        "NOTES_QA_TORCH_THREADS": "1",
    }


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "service.api.cli", *args]


@contextmanager
def api_process(env: dict[str, str], log: Path) -> Iterator[str]:
    port = free_port()
    with open(log, "w") as out:
        proc = subprocess.Popen(cli("serve", "--port", str(port)), env=env, cwd=REPO, stdout=out, stderr=out)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while True:
            try:
                if httpx.get(base + "/ready", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, f"API process exited: {log.read_text()[-2000:]}"
            assert time.monotonic() < deadline, f"API process not ready: {log.read_text()[-2000:]}"
            time.sleep(0.5)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_two_processes_pick_up_a_reingest_with_no_failed_request(tmp_path: Path) -> None:
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "metrics.md").write_text("# Metrics\n\nRecall = TP/(TP+FN). Precision = TP/(TP+FP).\n")
    (notes / "lab.md").write_text("# Lab\n\nThe lab keeps fish in three tanks by the window.\n")
    env = env_for(tmp_path)
    subprocess.run(cli("ingest", "--quiet"), env=env, cwd=REPO, check=True, timeout=300)

    with ExitStack() as stack:
        apis = [stack.enter_context(api_process(env, tmp_path / f"api-{i}.log")) for i in range(2)]
        first = {httpx.get(a + "/ready").json()["index_version"] for a in apis}
        assert len(first) == 1

        (notes / "lab.md").write_text(
            "# Lab\n\nThe lab keeps fish in three tanks. The lab's zebrafish is named Wanda.\n"
        )
        ingest = subprocess.Popen(cli("ingest", "--quiet"), env=env, cwd=REPO, stdout=subprocess.PIPE, text=True)
        failures: list[str] = []
        versions: dict[str, str] = {}
        sent = during_ingest = 0
        started = time.monotonic()
        with httpx.Client(timeout=30) as http:
            while sent < 200 and time.monotonic() - started < 60:
                api = apis[sent % 2]
                sent += 1
                during_ingest += ingest.poll() is None
                try:
                    r = http.post(api + "/search", json=QUESTION)
                    ready = http.get(api + "/ready")
                    if r.status_code != 200 or ready.status_code != 200:
                        failures.append(f"{api}: {r.status_code} {ready.status_code} {r.text[:200]}")
                    else:
                        versions[api] = ready.json()["index_version"]
                except httpx.HTTPError as exc:
                    failures.append(f"{api}: {exc!r}")
                if ingest.poll() is not None and len(versions) == 2 and not set(versions.values()) & first:
                    break
                time.sleep(0.2)
        assert ingest.wait(timeout=120) == 0
        assert failures == [], failures
        new = {httpx.get(a + "/ready").json()["index_version"] for a in apis}
        assert len(new) == 1 and new != first, (first, new)
        for api in apis:
            hits = httpx.post(api + "/search", json=QUESTION).json()["hits"]
            assert "Wanda" in hits[0]["text"]
        assert during_ingest > 0  # the loop really overlapped the re-ingest and the swap
        print(f"{sent} requests, {during_ingest} while ingesting, 0 failed; {first} -> {new}")
