"""transports/ imports in one direction: no circle between its modules
(imports under ``if TYPE_CHECKING:`` count: they are dependencies too, and
the circles they hid are what the SessionHost and Scheduler protocols
replaced), and nothing of app/."""
from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "transports"


def imports_of(path: Path) -> set[str]:
    """Every module named by an absolute import anywhere in ``path``."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def graph() -> dict[str, set[str]]:
    modules = {f"transports.{p.stem}": p for p in PACKAGE.glob("*.py") if p.stem != "__init__"}
    return {name: imports_of(path) for name, path in modules.items()}


def circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for succ in sorted(edges[node] & edges.keys()):
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component: list[str] = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_transports_has_no_import_circle() -> None:
    edges = graph()
    assert "transports.session" in edges and "transports.router" in edges
    assert circles(edges) == []


def test_the_circle_check_sees_type_checking_imports(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from transports.b import B\n")
    assert "transports.b" in imports_of(tmp_path / "a.py")
    assert circles({"transports.a": {"transports.b"}, "transports.b": {"transports.a"}}) == [
        ["transports.a", "transports.b"]]


def test_transports_never_imports_app() -> None:
    offenders = {name: sorted(n for n in names if n == "app" or n.startswith("app."))
                 for name, names in graph().items()}
    assert {name: found for name, found in offenders.items() if found} == {}
