"""The EWS sandbox's modules import each other in one direction only (no circle, issue 12).

Every import counts, including those inside functions and under ``TYPE_CHECKING``: a circle that
hides behind a late import is still a circle for a reader.
"""

from __future__ import annotations

import ast
from pathlib import Path

import ews_sandbox

PACKAGE = "ews_sandbox"
ROOT = Path(ews_sandbox.__file__).parent


def imported_modules(path: Path) -> set[str]:
    """The ``ews_sandbox`` modules ``path`` imports, anywhere in the file."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith(f"{PACKAGE}.")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == PACKAGE:  # from ews_sandbox import soap, ops_items
                found |= {f"{PACKAGE}.{a.name}" for a in node.names}
            elif node.module.startswith(f"{PACKAGE}."):
                found.add(node.module)
    return found


def import_graph() -> dict[str, set[str]]:
    modules = {f"{PACKAGE}.{p.stem}": p for p in ROOT.glob("*.py") if p.stem != "__init__"}
    return {name: imported_modules(path) & modules.keys() for name, path in modules.items()}


def find_circle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle as a path that ends where it starts, or None (depth-first search)."""
    done: set[str] = set()
    stack: list[str] = []

    def visit(name: str) -> list[str] | None:
        if name in stack:
            return [*stack[stack.index(name) :], name]
        if name in done:
            return None
        stack.append(name)
        for target in sorted(graph.get(name, ())):
            circle = visit(target)
            if circle:
                return circle
        stack.pop()
        done.add(name)
        return None

    for name in sorted(graph):
        circle = visit(name)
        if circle:
            return circle
    return None


def test_the_finder_sees_a_circle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}
    assert find_circle(graph) == ["a", "b", "c", "a"]
    assert find_circle({"a": {"b"}, "b": set()}) is None


def test_ews_sandbox_has_no_import_circle():
    graph = import_graph()
    assert "ews_sandbox.server" in graph["ews_sandbox.cli"]  # the graph is really read
    circle = find_circle(graph)
    assert circle is None, "import circle: " + " -> ".join(circle or [])


def test_the_server_never_sees_the_command_line():
    """Sell's shape: cli.py parses and builds the state; the server gets it built."""
    assert "ews_sandbox.cli" not in {m for deps in import_graph().values() for m in deps}
    assert "argparse" not in (ROOT / "server.py").read_text(encoding="utf-8")
