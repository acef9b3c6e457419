"""The client's modules import in one direction (review §2.3 "Cycles").

The graph is built from the source, so imports under ``TYPE_CHECKING`` and
imports inside functions count as much as the ones that run.
"""

from __future__ import annotations

import ast
from pathlib import Path

import execsrv.client

PACKAGE = "execsrv.client"
SOURCE = Path(execsrv.client.__file__).parent


def module_name(path: Path) -> str:
    return PACKAGE if path.name == "__init__.py" else f"{PACKAGE}.{path.stem}"


def imported_modules(source: str, module: str, modules: set[str]) -> set[str]:
    """The ``modules`` that ``module`` (whose text is ``source``) imports, wherever
    the import statement is."""
    # The package a relative import in this module is relative to.
    base = module if module == PACKAGE else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = base.split(".")
                anchor = ".".join(parts[: len(parts) - node.level + 1])
                origin = f"{anchor}.{node.module}" if node.module else anchor
            else:
                origin = node.module or ""
            # `from . import fs` imports the submodule; `from .fs import X` the module.
            targets = [origin, *(f"{origin}.{alias.name}" for alias in node.names)]
        else:
            continue
        found.update(target for target in targets if target in modules)
    found.discard(module)
    return found


def import_graph() -> dict[str, set[str]]:
    paths = sorted(SOURCE.glob("*.py"))
    modules = {module_name(path) for path in paths}
    return {
        module_name(path): imported_modules(path.read_text(), module_name(path), modules)
        for path in paths
    }


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle (as a path that returns to its start), or None."""
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> list[str] | None:
        if module in path:
            return [*path[path.index(module) :], module]
        if module in done:
            return None
        for imported in sorted(graph[module]):
            cycle = visit(imported, [*path, module])
            if cycle is not None:
                return cycle
        done.add(module)
        return None

    for module in sorted(graph):
        cycle = visit(module, [])
        if cycle is not None:
            return cycle
    return None


def test_no_import_cycle_in_the_client() -> None:
    graph = import_graph()
    assert f"{PACKAGE}.peer" in graph[f"{PACKAGE}.supervisor"]  # the graph sees imports
    cycle = find_cycle(graph)
    assert cycle is None, " -> ".join(cycle or [])


def test_the_graph_sees_type_checking_and_local_imports() -> None:
    """A ``TYPE_CHECKING`` back-import of ``Client`` is what the old cycle looked like."""
    client, fs, events = (f"{PACKAGE}.{name}" for name in ("client", "fs", "events"))
    source = (
        "from typing import TYPE_CHECKING\n"
        "import execsrv.client.events\n"
        "if TYPE_CHECKING:\n"
        "    from .client import Client\n"
        "def later():\n"
        "    from . import errors\n"
    )
    modules = {client, fs, events, f"{PACKAGE}.errors"}
    assert imported_modules(source, fs, modules) == {client, events, f"{PACKAGE}.errors"}
    graph = {client: {fs}, fs: imported_modules(source, fs, modules), events: set()}
    graph[f"{PACKAGE}.errors"] = set()
    assert find_cycle(graph) == [client, fs, client]
