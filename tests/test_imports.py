"""The client's packages import each other without circles (also inside functions, and
under ``if TYPE_CHECKING:``: a circle of type names is a circle of meaning all the same)."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.support import ROOT

PACKAGES = ("chat", "nameserver")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported(tree: ast.AST, module: str, is_package: bool, known: set[str]) -> set[str]:
    """Modules of ours that ``tree`` imports anywhere, ``if TYPE_CHECKING:`` blocks included."""
    found: set[str] = set()

    def resolve(name: str) -> str | None:
        while name and name not in known:  # "chat.x.func" -> "chat.x"
            name = name.rpartition(".")[0]
        return name or None

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.Import):
            for alias in node.names:
                target = resolve(alias.name)
                if target:
                    found.add(target)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module if is_package else module.rpartition(".")[0]
                for _ in range(node.level - 1):
                    package = package.rpartition(".")[0]
                base = f"{package}.{base}" if base else package
            for alias in node.names:
                target = resolve(f"{base}.{alias.name}") or resolve(base)
                if target:
                    found.add(target)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    found.discard(module)
    return found


def import_graph() -> dict[str, set[str]]:
    files = {module_name(p): p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")}
    known = set(files)
    return {
        name: imported(ast.parse(path.read_text()), name, path.name == "__init__.py", known)
        for name, path in files.items()
    }


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle as a path that ends where it starts, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state:
                cycle = visit(nxt)
                if cycle:
                    return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def test_the_finder_names_a_circle_hidden_in_a_function():
    source = {
        "chat.a": "from chat import b\n",
        "chat.b": "def f():\n    from chat.a import x\n",
        "chat.c": "from chat import a\n",
    }
    known = set(source) | {"chat"}
    graph = {m: imported(ast.parse(s), m, False, known) for m, s in source.items()}
    assert find_cycle(graph) == ["chat.a", "chat.b", "chat.a"]
    del graph["chat.b"]
    assert find_cycle(graph) is None


def test_the_finder_counts_imports_made_only_for_type_checking():
    source = {
        "chat.a": "from chat import b\n",
        "chat.b": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from chat.a import y\n",
    }
    known = set(source) | {"chat"}
    graph = {m: imported(ast.parse(s), m, False, known) for m, s in source.items()}
    assert find_cycle(graph) == ["chat.a", "chat.b", "chat.a"]


def test_no_import_circles_in_the_client():
    graph = import_graph()
    assert "chat.app" in graph and "chat.errors" in graph["chat.private.feature"]
    cycle = find_cycle(graph)
    assert cycle is None, "import circle: " + " -> ".join(cycle or [])


def test_the_name_server_package_knows_nothing_of_the_client():
    graph = import_graph()
    reaching_up = {
        module: sorted(t for t in targets if t.split(".")[0] == "chat")
        for module, targets in graph.items()
        if module.split(".")[0] == "nameserver"
    }
    assert "nameserver.registry" in reaching_up
    assert {m: t for m, t in reaching_up.items() if t} == {}


def test_the_floors_are_folders():
    """Transport, trust and front live in folders of their own, as docs/architecture.md draws."""
    graph = import_graph()
    for floor in ("chat.transport", "chat.trust", "chat.front"):
        assert any(m.startswith(floor + ".") for m in graph), floor
    # The transport floor builds on nothing of the features, the windows or the front.
    for module, targets in graph.items():
        if module.startswith("chat.transport."):
            above = [
                t
                for t in targets
                if t.startswith(("chat.front", "chat.windows", "chat.groups", "chat.private"))
            ]
            assert above == [], f"{module} reaches up to {above}"
