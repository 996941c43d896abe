"""The stages depend one way — ingest → index → service → eval — and only `service` imports FastAPI.

Each check imports every module of a stage in a fresh interpreter and lists what got loaded, so an import hidden
inside another module (or added later) is caught, not only the ones a grep would see."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import REPO

LOADED = """
import importlib, json, pkgutil, sys
stage = sys.argv[1]
package = importlib.import_module(stage)
for info in pkgutil.walk_packages(package.__path__, stage + "."):
    importlib.import_module(info.name)
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules})))
"""


def loaded_by(stage: str) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", LOADED, stage], cwd=REPO, capture_output=True, text=True, check=True, timeout=300
    )
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize(
    ("stage", "forbidden"),
    [
        ("ingest", {"index", "service", "eval", "fastapi", "starlette"}),
        ("index", {"service", "eval", "fastapi", "starlette"}),
    ],
)
def test_a_stage_never_imports_a_later_one(stage: str, forbidden: set[str]) -> None:
    assert not loaded_by(stage) & forbidden
