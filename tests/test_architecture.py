"""The house: gwsnb's import graph, read from the code, has no circle and keeps its rooms apart.

Every ``import`` and ``from ... import`` counts, wherever it stands: at the top, inside a function (a lazy
import), or under ``if TYPE_CHECKING:``. A name imported from a package counts as an edge to the
submodule when one of that name exists, otherwise to the package. The one late binding the graph cannot
read, :func:`gwsnb.results._view` (results and batches reaching their views on first use), is pinned here
so that no other ``importlib`` use can hide an edge. See docs/architecture.md.
"""

from __future__ import annotations

import ast
import importlib
from collections.abc import Iterator
from pathlib import Path

import pytest

import gwsnb

PACKAGE_DIR = Path(gwsnb.__file__).parent

#: rooms (subpackages) and the rooms each may import; the top-level modules are the data and the API
ROOMS_NOT_IMPORTING = {
    "gwsnb.sandbox": ("gwsnb.client", "gwsnb._engine", "gwsnb._wire.rest", "gwsnb._wire.cometd",
                      "gwsnb.batch", "gwsnb.runs", "gwsnb.frames", "gwsnb.widgets", "gwsnb._cli.chained_records"),
    "gwsnb._wire": ("gwsnb._engine", "gwsnb.client", "gwsnb.sandbox", "gwsnb._cli", "gwsnb.widgets"),
    "gwsnb._engine": ("gwsnb.client", "gwsnb.sandbox", "gwsnb._cli", "gwsnb.widgets"),
    # the doctor speaks HTTP itself: it must not lean on the sandbox it is tested against, nor on the client
    "gwsnb._doctor": ("gwsnb.sandbox", "gwsnb.client", "gwsnb._cli", "gwsnb.widgets", "gwsnb.doctor"),
    # campaign progress reads runs as data: never the wire, the engine or a server
    "gwsnb._analysis": ("gwsnb.sandbox", "gwsnb.client", "gwsnb._wire", "gwsnb._engine", "gwsnb._cli",
                        "gwsnb.widgets", "gwsnb.progress"),
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE_DIR.rglob("*.py"))}


def _target(name: str, imported: str | None) -> str:
    if imported is not None and f"{name}.{imported}" in MODULES:
        return f"{name}.{imported}"
    return name


def imports_of(module: str) -> Iterator[str]:
    """Every gwsnb module ``module`` imports, at any depth of its code."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names if alias.name.split(".")[0] == "gwsnb")
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            if name.split(".")[0] != "gwsnb":
                continue
            for alias in node.names:
                yield _target(name, alias.name)


def graph() -> dict[str, set[str]]:
    return {m: {t for t in imports_of(m) if t in MODULES and t != m} for m in MODULES}


def find_circle(edges: dict[str, set[str]]) -> list[str] | None:
    """One import circle as a list of modules (first == last), or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for start in sorted(edges):
        if start not in state and (found := visit(start)):
            return found
    return None


def test_the_graph_is_read_from_the_code() -> None:
    edges = graph()
    # a runtime import, a type-checking-only import and a lazy one inside a function
    assert "gwsnb._wire.cometd" in edges["gwsnb.client"]
    assert "gwsnb._engine.correlate" in edges["gwsnb.operations"]  # under TYPE_CHECKING
    assert "gwsnb.runs" in edges["gwsnb.client"]  # inside a method
    assert "gwsnb.protocol" in edges["gwsnb.sandbox._calling_list"]  # absolute form


def test_find_circle_finds_one() -> None:
    assert find_circle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_circle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_no_import_circle() -> None:
    circle = find_circle(graph())
    assert circle is None, "import circle: " + " -> ".join(circle or [])


@pytest.mark.parametrize("room", sorted(ROOMS_NOT_IMPORTING))
def test_rooms_keep_their_dependencies(room: str) -> None:
    edges = graph()
    crossing = sorted((m, t) for m, targets in edges.items() if m == room or m.startswith(room + ".")
                      for t in targets
                      for banned in ROOMS_NOT_IMPORTING[room] if t == banned or t.startswith(banned + "."))
    assert crossing == []


def test_importlib_only_where_pinned() -> None:
    users = sorted(m for m, p in MODULES.items() if "importlib" in p.read_text())
    assert users == ["gwsnb", "gwsnb.results"]


@pytest.mark.parametrize("public", ["gwsnb.frames", "gwsnb.labels", "gwsnb.plots", "gwsnb.runs", "gwsnb.params",
                                    "gwsnb.errors", "gwsnb.protocol", "gwsnb.sandbox", "gwsnb.client",
                                    "gwsnb.batch", "gwsnb.results", "gwsnb.operations", "gwsnb.widgets",
                                    "gwsnb.record_form", "gwsnb.cli", "gwsnb.doctor", "gwsnb.pace", "gwsnb.plan"])
def test_public_modules_stay_where_users_import_them(public: str) -> None:
    assert importlib.import_module(public).__name__ == public


def test_operation_result_is_importable_from_its_old_home() -> None:
    from gwsnb.operations import OperationResult
    assert OperationResult is gwsnb.OperationResult
