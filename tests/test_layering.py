"""The stages depend one way — ingest → index → service → eval — and inside service, pipeline → backends → api:
a module imports only its own layer and the layers before it (``tests/import_graph.LAYERS``), read from every
import statement of every module, at any depth. Only ``service.api`` speaks to the network (FastAPI, Starlette,
MCP, uvicorn). A fresh interpreter also loads each lower stage whole and lists what came with it, so an import
hidden behind another module is caught too. The README's picture is this graph."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import REPO
from tests.import_graph import LAYERS, WEB, imports, layer_of, mermaid, modules

LOADED = """
import importlib, json, pkgutil, sys
package = importlib.import_module(sys.argv[1])
for info in pkgutil.walk_packages(package.__path__, sys.argv[1] + "."):
    importlib.import_module(info.name)
print(json.dumps(sorted(sys.modules)))
"""


def test_no_module_imports_a_later_layer() -> None:
    upward = []
    for module, path in modules():
        source = layer_of(module)
        for name in imports(path, module):
            target = layer_of(name)
            if source and target and LAYERS.index(target) > LAYERS.index(source):
                upward.append(f"{module} imports {name}")
    assert upward == []


def test_only_the_api_room_imports_web_frameworks() -> None:
    outside = [
        f"{module} imports {name}"
        for module, path in modules()
        if layer_of(module) != "service.api"
        for name in imports(path, module)
        if name.startswith(WEB) and (name in WEB or name.startswith(tuple(w + "." for w in WEB)))
    ]
    assert outside == []


def test_the_layering_rules_see_every_module() -> None:
    names = [module for module, _ in modules()]
    assert [n for n in names if layer_of(n) is None] == ["service"]  # the package root only
    assert {layer_of(n) for n in names if n != "service"} == set(LAYERS)


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("ingest", ("index", "service", "eval", "mcp", *WEB)),
        ("index", ("service", "eval", "mcp", *WEB)),
        ("service.pipeline", ("service.backends", "service.api", "eval", "mcp", *WEB)),
        ("service.backends", ("service.api", "eval", "mcp", *WEB)),
    ],
)
def test_loading_a_layer_whole_brings_nothing_from_later_ones(package: str, forbidden: tuple[str, ...]) -> None:
    done = subprocess.run(
        [sys.executable, "-c", LOADED, package], cwd=REPO, capture_output=True, text=True, check=True, timeout=300
    )
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    assert [m for m in loaded if m in forbidden or m.startswith(tuple(f + "." for f in forbidden))] == []


def test_the_readme_shows_the_import_graph_as_it_is() -> None:
    assert mermaid() in (REPO / "README.md").read_text(encoding="utf-8")
