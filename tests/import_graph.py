"""The project's import graph, read from the code with ``ast`` (every import statement, at any depth): which
module imports which, grouped into the four stages and the service stage's three rooms. ``python -m
tests.import_graph`` prints the mermaid picture the README shows (tests/test_layering.py checks both)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# Stages and rooms, lowest first: a module may import only its own layer and the layers before it.
LAYERS = ("ingest", "index", "service.pipeline", "service.backends", "service.api", "eval")
ROLES = {
    "ingest": "read, clean, chunk, answer units, embed",
    "index": "HNSW + BM25, versions, search",
    "service.pipeline": "answering: retrieve, read, decide, prompt, check",
    "service.backends": "models and wiring from Settings",
    "service.api": "HTTP, OpenAI API, MCP, CLI",
    "eval": "question sets, scoring, calibration, bench",
}
# Only service.api serves the network (eval's load scripts may be clients: httpx, mcp.client).
WEB = ("fastapi", "starlette", "uvicorn", "sse_starlette", "mcp.server")


def modules() -> Iterator[tuple[str, Path]]:
    for top in ("ingest", "index", "service", "eval"):
        for path in sorted((REPO / top).rglob("*.py")):
            parts = path.relative_to(REPO).with_suffix("").parts
            yield ".".join(p for p in parts if p != "__init__"), path


def imports(path: Path, module: str) -> set[str]:
    """Every module name an import statement in ``path`` names (relative imports resolved)."""
    found: set[str] = set()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)  # `from service import reader`
    return found


def layer_of(name: str) -> str | None:
    """The layer a module name belongs to (``service`` itself, the package root, belongs to none)."""
    for layer in sorted(LAYERS, key=len, reverse=True):
        if name == layer or name.startswith(layer + "."):
            return layer
    return None


def layer_edges() -> set[tuple[str, str]]:
    edges = set()
    known = {name for name, _ in modules()}
    for module, path in modules():
        source = layer_of(module)
        for name in imports(path, module):
            target = layer_of(name)
            if source and target and source != target and (name in known or name.rpartition(".")[0] in known):
                edges.add((source, target))
    return edges


def mermaid() -> str:
    ids = {layer: layer.replace(".", "_") for layer in LAYERS}
    lines = ["```mermaid", "flowchart TB"]
    lines += [f'    {ids[layer]}["{layer}<br/><small>{ROLES[layer]}</small>"]' for layer in LAYERS]
    lines += [f"    {ids[a]} --> {ids[b]}" for a, b in sorted(layer_edges(), key=lambda e: (LAYERS.index(e[0]), e[1]))]
    return "\n".join([*lines, "```"])


if __name__ == "__main__":
    print(mermaid())
