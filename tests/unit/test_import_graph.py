"""The package's import graph has no cycles: one home per helper, layers that only look
down (the review found server12 <-> server13 through a private helper).

The graph is read from the source with `ast`, so it sees every import statement: those at
module level, and those inside functions (a lazy import is still a dependency at run
time). Imports under ``if TYPE_CHECKING:`` are for annotations only and are not edges.
"""

from __future__ import annotations

import ast
from pathlib import Path

import tlskit

ROOT = Path(tlskit.__file__).parent


def _module_name(path: Path) -> str:
    parts = ["tlskit", *path.relative_to(ROOT).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(tree: ast.AST, module: str, is_package: bool, modules: set[str],
             *, top_level_only: bool) -> set[str]:
    """The tlskit modules `module` imports."""
    found: set[str] = set()
    package = module if is_package else module.rsplit(".", 1)[0]

    def resolve(base: str, names: list[str]) -> None:
        for name in names:  # `from pkg import mod` imports the module pkg.mod
            if f"{base}.{name}" in modules:
                found.add(f"{base}.{name}")
            elif base in modules:
                found.add(base)

    def visit(node: ast.AST, depth: int) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                continue
            inside = depth + isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            if isinstance(child, ast.Import) and not (top_level_only and depth):
                found.update(a.name for a in child.names if a.name in modules)
            elif isinstance(child, ast.ImportFrom) and not (top_level_only and depth):
                if child.level:
                    base = package.rsplit(".", child.level - 1)[0] if child.level > 1 \
                        else package
                    base = f"{base}.{child.module}" if child.module else base
                else:
                    base = child.module or ""
                if base.startswith("tlskit"):
                    resolve(base, [a.name for a in child.names])
            visit(child, inside)

    visit(tree, 0)
    found.discard(module)
    return found


def import_graph(*, top_level_only: bool) -> dict[str, set[str]]:
    files = {_module_name(p): p for p in ROOT.rglob("*.py")}
    modules = set(files)
    return {name: _imports(ast.parse(path.read_text()), name, path.name == "__init__.py",
                           modules, top_level_only=top_level_only)
            for name, path in files.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle as a list of modules (first == last), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def dfs(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt):], nxt]
            if nxt not in state and (cycle := dfs(nxt)) is not None:
                return cycle
        state[node] = 2
        path.pop()
        return None

    for node in sorted(graph):
        if node not in state and (cycle := dfs(node)) is not None:
            return cycle
    return None


def test_module_level_imports_are_acyclic() -> None:
    assert find_cycle(import_graph(top_level_only=True)) is None


def test_no_cycle_even_through_lazy_imports() -> None:
    """Function-level imports count too: the 1.3 handshakes hand over to the 1.2 ones,
    never the other way round."""
    graph = import_graph(top_level_only=False)
    assert find_cycle(graph) is None
    assert "tlskit.handshake.server12" in graph["tlskit.handshake.server13"]
    assert "tlskit.handshake.client12" in graph["tlskit.handshake.client13"]
    for twelve in ("tlskit.handshake.server12", "tlskit.handshake.client12",
                   "tlskit.handshake.common12"):
        assert not graph[twelve] & {"tlskit.handshake.server13", "tlskit.handshake.client13"}


def test_the_engine_never_imports_io_or_the_cli() -> None:
    graph = import_graph(top_level_only=False)
    engine = [m for m in graph if m.startswith(("tlskit.handshake", "tlskit.record",
                                                "tlskit.connection", "tlskit.wire"))]
    for module in engine:
        upward = {d for d in graph[module] if d.startswith(("tlskit.io", "tlskit.cli",
                                                            "tlskit.aio"))}
        assert not upward, (module, upward)


def test_the_cycle_finder_finds_cycles() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a"}}) is None
