"""No import cycle between modules of soccerreid, and nothing below imports the package root.

The graph is read from the source (AST), not by importing: an edge for every ``import`` of a
soccerreid module anywhere in a file, function-local imports included (a cycle that a deferred
import hides from Python still ties two layers together: the command and the explorer once did),
``if TYPE_CHECKING:`` blocks excluded (annotations only). ``from soccerreid.x import y`` is an
edge to ``soccerreid.x.y`` when that is a module, else to ``soccerreid.x`` (its ``__init__``).
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in (SRC / "soccerreid").rglob("*.py")}


def _is_type_checking(node: ast.AST) -> bool:
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and getattr(test, "id", getattr(test, "attr", None)) == "TYPE_CHECKING"


def _import_nodes(node: ast.AST):
    for child in ast.iter_child_nodes(node):
        if _is_type_checking(child):
            continue
        if isinstance(child, (ast.Import, ast.ImportFrom)):
            yield child
        yield from _import_nodes(child)


def _targets(node: ast.Import | ast.ImportFrom) -> set[str]:
    if isinstance(node, ast.Import):
        return {alias.name for alias in node.names}
    if node.level or not node.module:
        raise AssertionError(f"relative import of {node.module}: use absolute imports")
    return {f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in MODULES else node.module for a in node.names}


def import_graph() -> dict[str, set[str]]:
    """{module: the soccerreid modules it imports}, for every module of the package."""
    graph = {}
    for name, path in MODULES.items():
        found = set().union(*(_targets(n) for n in _import_nodes(ast.parse(path.read_text()))))
        graph[name] = {t for t in found if t in MODULES and t != name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as a path ``[a, b, ..., a]``, or None (iterative depth-first search)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for root in sorted(graph):
        if root in state:
            continue
        path, stack = [root], [iter(sorted(graph[root]))]
        state[root] = 1
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            elif nxt not in state:
                state[nxt] = 1
                path.append(nxt)
                stack.append(iter(sorted(graph[nxt])))
    return None


def test_find_cycle_finds_a_cycle_and_only_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_no_import_cycle_between_soccerreid_modules():
    cycle = find_cycle(import_graph())
    assert cycle is None, f"import cycle: {' -> '.join(cycle)}"


def test_no_module_imports_the_package_root():
    importers = sorted(name for name, imports in import_graph().items() if "soccerreid" in imports)
    assert not importers, f"{importers} import the package root (its lazy API imports them back)"
