"""The route table covers the method table exactly, and the connection knows no method.

``build_routes`` is what the server is constructed with, so a gap fails at
startup; the AST checks keep ``connection.py`` a method-agnostic engine (a new
method is added in ``routes.py``, never there).
"""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path
from typing import Any

import pytest

from execsrv.process import ProcessLimits
from execsrv.protocol import methods as m
from execsrv.protocol.process import ListParams, ListResponse
from execsrv.server import connection
from execsrv.server.call import Call
from execsrv.server.fs_api import FsApi
from execsrv.server.http_api import HttpApi
from execsrv.server.process_api import ProcessApi
from execsrv.server.routes import (
    HANDSHAKE_METHODS,
    Route,
    RouteTable,
    RouteTableError,
    build_routes,
    route_table,
)

HANDSHAKE_NAMES = {m.INITIALIZE.name, m.INITIALIZED.name}


def _server_routes() -> RouteTable:
    processes = ProcessApi(
        ProcessLimits(
            retained_output_bytes=1 << 20, exited_retention_seconds=1.0, kill_grace_seconds=1.0
        ),
        exited_output_bytes=1 << 20,
    )
    return build_routes(processes, FsApi(), HttpApi(max_body_bytes=1 << 20))


async def _list_nothing(call: Call[ListParams]) -> ListResponse:
    return ListResponse(processes=[])


def test_every_method_but_the_handshake_has_exactly_its_route() -> None:
    routes = _server_routes()
    assert routes.keys() == m.METHODS.keys() - HANDSHAKE_METHODS
    for name, route in routes.items():
        assert route.method is m.METHODS[name]


def test_a_method_without_a_route_fails() -> None:
    routes = dict(_server_routes())
    del routes[m.PROCESS_WRITE.name]
    with pytest.raises(RouteTableError, match="no route for process/write"):
        route_table(routes.values())


def test_a_new_method_without_a_route_fails() -> None:
    added = m.Method("process/added", ListParams, ListResponse, "A method nobody serves.")
    with pytest.raises(RouteTableError, match="no route for process/added"):
        route_table(_server_routes().values(), {**m.METHODS, added.name: added})


def test_a_route_without_a_method_fails() -> None:
    unknown = m.Method("process/unknown", ListParams, ListResponse, "Not in the table.")
    routes = [*_server_routes().values(), Route(unknown, _list_nothing)]
    with pytest.raises(RouteTableError, match="not in the method table: process/unknown"):
        route_table(routes)


def test_a_route_for_a_copy_of_a_method_fails() -> None:
    """A route binds the table's constant itself, not an equal-looking one."""
    twin = m.Method(m.PROCESS_LIST.name, ListParams, ListResponse, "A second constant.")
    routes = dict(_server_routes())
    routes[twin.name] = Route(twin, _list_nothing)
    with pytest.raises(RouteTableError, match="not in the method table: process/list"):
        route_table(routes.values())


def test_a_second_route_for_a_method_fails() -> None:
    routes = [*_server_routes().values(), Route(m.PROCESS_LIST, _list_nothing)]
    with pytest.raises(RouteTableError, match="more than one route for process/list"):
        route_table(routes)


def test_the_handshake_has_no_route() -> None:
    async def initialize(call: Call[Any]) -> Any:
        raise AssertionError("never called")

    routes = [*_server_routes().values(), Route(m.INITIALIZE, initialize)]
    with pytest.raises(RouteTableError, match="not in the method table: initialize"):
        route_table(routes)


# -- connection.py stays method-agnostic -------------------------------------------

CONNECTION_SOURCE = Path(connection.__file__)
CONNECTION_TREE = ast.parse(CONNECTION_SOURCE.read_text(), filename=str(CONNECTION_SOURCE))

FORBIDDEN_MODULES = (
    "execsrv.process",  # what a method does is the handlers' business
    "execsrv.protocol.process",  # per-method params and results
    "execsrv.protocol.fs",
    "execsrv.protocol.http",
    "execsrv.server.process_api",
    "execsrv.server.fs_api",
    "execsrv.server.http_api",
)


def _imported_modules(tree: ast.Module, package: str) -> list[str]:
    modules = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            name = "." * node.level + (node.module or "")
            base = importlib.util.resolve_name(name, package)
            modules.append(base)
            # ``from .. import process`` imports a module too
            modules += [f"{base}.{alias.name}" for alias in node.names]
    return modules


def test_connection_imports_nothing_method_specific() -> None:
    imported = _imported_modules(CONNECTION_TREE, "execsrv.server")
    assert "execsrv.server.routes" in imported  # the check resolves relative imports
    offending = [
        module
        for module in imported
        if any(module == bad or module.startswith(f"{bad}.") for bad in FORBIDDEN_MODULES)
    ]
    assert offending == []


def _method_names_in_strings(tree: ast.Module) -> list[str]:
    """Wire names of methods and notifications (but the handshake's) in any string,
    docstrings included."""
    method_names = (m.METHODS.keys() | m.NOTIFICATIONS.keys()) - HANDSHAKE_NAMES
    strings = [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    ]
    return sorted({name for text in strings for name in method_names if name in text})


def _method_constants_used(tree: ast.Module) -> list[str]:
    """Method constants (but the handshake's), and the tables, named anywhere."""
    constants = {
        name
        for name, value in vars(m).items()
        if isinstance(value, m.Method | m.NotificationMethod) and value.name not in HANDSHAKE_NAMES
    } | {"METHODS", "NOTIFICATIONS"}
    used = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    used |= {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
    used |= {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    return sorted(used & constants)


def test_connection_names_no_method_but_the_handshake() -> None:
    assert _method_names_in_strings(CONNECTION_TREE) == []
    assert _method_constants_used(CONNECTION_TREE) == []


def test_the_checks_see_what_this_redesign_removed() -> None:
    """Not vacuous: code like the connection's old dispatch fails each check."""
    old = ast.parse(
        "from ..process import ManagedProcess\n"
        "from ..protocol.methods import METHODS, PROCESS_WRITE\n"
        'IMMEDIATE_METHODS = frozenset({"process/terminate", "process/list"})\n'
        'if spec.name == "process/read": pass\n'
        "if route.method is m.PROCESS_READ: pass\n"
    )
    assert "execsrv.process" in _imported_modules(old, "execsrv.server")
    assert _method_names_in_strings(old) == ["process/list", "process/read", "process/terminate"]
    assert _method_constants_used(old) == ["METHODS", "PROCESS_READ", "PROCESS_WRITE"]
