"""Errors are translated once, at each boundary (issue 9, point 2).

Read from the source (the AST, not a grep, so docstrings and comments may name
codes): the domain packages raise their own errors and speak no JSON-RPC, the
local backend stands on no server module, and the JSON-RPC error codes are
written down once, in ``execsrv/protocol/errors.py``. The two translations of
domain errors (the server's into wire errors, the local backend's into the
client's) must agree, since a backend's caller cannot tell which one ran.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

import execsrv
from execsrv import fs, http, process
from execsrv.backend.errors import as_client_error
from execsrv.client.errors import FileNotFound
from execsrv.protocol import errors as wire_errors
from execsrv.server.errors import DomainError, rpc_error

PACKAGE = Path(execsrv.__file__).parent
DOMAIN_PACKAGES = ("process", "fs", "http")
CODES_MODULE = PACKAGE / "protocol" / "errors.py"


def is_error_code(value: object) -> bool:
    """JSON-RPC's reserved range (-32768..-32000): -326xx, -320xx and the rest."""
    return isinstance(value, int) and not isinstance(value, bool) and -32768 <= value <= -32000


PROTOCOL_ERRORS = frozenset({"execsrv.protocol", "execsrv.protocol.errors"})
"""Where the code constants can be imported from."""

CODE_NAMES = frozenset(
    name for name, value in vars(wire_errors).items() if name.isupper() and is_error_code(value)
)


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_source(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    """The absolute module of ``from <it> import ...`` in ``module``."""
    if not node.level:
        return node.module or ""
    base = module if is_package else module.rpartition(".")[0]
    for _ in range(node.level - 1):
        base = base.rpartition(".")[0]
    return f"{base}.{node.module}" if node.module else base


def imported_modules(tree: ast.Module, module: str, is_package: bool) -> Iterator[str]:
    """Every module an import names, relative ones resolved (``from .. import server``
    names ``execsrv.server``)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            source = import_source(node, module, is_package)
            yield source
            yield from (f"{source}.{alias.name}" for alias in node.names)


def imports_from(tree: ast.Module, module: str, is_package: bool, forbidden: str) -> list[str]:
    return sorted(
        {
            name
            for name in imported_modules(tree, module, is_package)
            if name == forbidden or name.startswith(forbidden + ".")
        }
    )


def wire_error_names(tree: ast.Module, module: str, is_package: bool) -> list[str]:
    """``RpcError`` however it is reached, and the code constants imported."""
    found = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Name) and node.id == "RpcError") or (
            isinstance(node, ast.Attribute) and node.attr == "RpcError"
        ):
            found.append(f"RpcError (line {node.lineno})")
        elif isinstance(node, ast.ImportFrom):
            from_protocol = import_source(node, module, is_package) in PROTOCOL_ERRORS
            found += [
                f"{alias.name} (line {node.lineno})"
                for alias in node.names
                if alias.name == "RpcError" or (from_protocol and alias.name in CODE_NAMES)
            ]
    return found


def error_code_literals(tree: ast.Module) -> list[int]:
    """Lines with an integer literal in JSON-RPC's reserved range (``-32600``)."""
    lines = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.UnaryOp)
            and isinstance(node.op, ast.USub)
            and isinstance(node.operand, ast.Constant)
            and isinstance(node.operand.value, int)
            and is_error_code(-node.operand.value)
        ) or (isinstance(node, ast.Constant) and is_error_code(node.value)):
            lines.append(node.lineno)
    return sorted(lines)


def sources(*subpackages: str) -> list[Path]:
    roots = [PACKAGE / name for name in subpackages] or [PACKAGE]
    return sorted(path for root in roots for path in root.rglob("*.py"))


def parse(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def test_the_checks_see_what_they_look_for() -> None:
    """Each check flags a violation (so an empty answer below means something)."""
    tree = ast.parse(
        "from ..server.fs_api import x\n"
        "from .. import server\n"
        "from ..protocol.errors import RpcError, INVALID_REQUEST\n"
        "raise errors.RpcError(-32600, 'm')\n"
        "code = -32004\n"
        "kind = ErrorKind.NOT_FOUND\n"
        "pid = 32600 - 1\n"
    )
    assert imports_from(tree, "execsrv.backend.local", False, "execsrv.server") == [
        "execsrv.server",
        "execsrv.server.fs_api",
        "execsrv.server.fs_api.x",
    ]
    assert wire_error_names(tree, "execsrv.fs.ops", False) == [
        "RpcError (line 3)",
        "INVALID_REQUEST (line 3)",
        "RpcError (line 4)",
    ]
    assert error_code_literals(tree) == [4, 5]
    assert {"INVALID_REQUEST", "INTERNAL_ERROR", "NOT_FOUND"} <= CODE_NAMES


def test_backend_does_not_import_server() -> None:
    found = {
        module_name(path): imports
        for path in sources("backend")
        if (
            imports := imports_from(
                parse(path), module_name(path), path.name == "__init__.py", "execsrv.server"
            )
        )
    }
    assert found == {}


@pytest.mark.parametrize("domain", DOMAIN_PACKAGES)
def test_domain_packages_speak_no_wire_errors(domain: str) -> None:
    """No server import, no ``RpcError`` raised or built, no code constant used."""
    paths = sources(domain)
    assert paths
    servers = {
        module_name(path): imports
        for path in paths
        if (
            imports := imports_from(
                parse(path), module_name(path), path.name == "__init__.py", "execsrv.server"
            )
        )
    }
    assert servers == {}
    wire = {
        module_name(path): names
        for path in paths
        if (names := wire_error_names(parse(path), module_name(path), path.name == "__init__.py"))
    }
    assert wire == {}


def test_error_codes_are_written_only_in_protocol_errors() -> None:
    found = {
        str(path.relative_to(PACKAGE.parent)): lines
        for path in sources()
        if path != CODES_MODULE and (lines := error_code_literals(parse(path)))
    }
    assert found == {}
    assert error_code_literals(parse(CODES_MODULE))  # the codes are there


DOMAIN_ERRORS: list[DomainError] = [
    process.SpawnFailed("No such file or directory (os error 2)"),
    process.EmptyArgv(),
    process.ProcessIdTaken("p1"),
    process.ProcessLimitReached(3),
    process.UnknownProcess("p1"),
    process.ProcessStarting("p1"),
    process.NotATerminal("p1"),
    fs.FsError(fs.ErrorKind.NOT_FOUND, "No such file or directory (os error 2)"),
    fs.FsError(fs.ErrorKind.INVALID_INPUT, "Permission denied (os error 13)"),
    fs.FsError(fs.ErrorKind.OTHER, "Is a directory (os error 21)"),
]


@pytest.mark.parametrize("error", DOMAIN_ERRORS, ids=lambda error: type(error).__name__)
def test_server_and_local_backend_translate_alike(error: process.ProcessError | fs.FsError) -> None:
    on_the_wire = rpc_error(error)
    raised = as_client_error(error)
    assert (raised.code, raised.message) == (on_the_wire.code, on_the_wire.message)
    assert raised.message == str(error)
    assert isinstance(raised, FileNotFound) == (on_the_wire.code == wire_errors.NOT_FOUND)


def test_http_errors_reach_the_wire_in_the_reference_words() -> None:
    """The server's wording around the runner's messages (the local backend has no HTTP)."""
    cases: list[tuple[http.HttpError, int, str]] = [
        (http.InvalidMethod(), -32602, "http/request method is invalid: invalid HTTP method"),
        (
            http.UnsupportedScheme("ftp", "ftp://x/"),
            -32602,
            "http/request only supports http and https URLs, got ftp",
        ),
        (
            http.InvalidHeaderValue("x-a"),
            -32602,
            "http/request header value is invalid for x-a: failed to parse header value",
        ),
        (
            http.RequestFailed.sending("http://x/"),
            -32603,
            "http/request failed: error sending request for url (http://x/)",
        ),
        (
            http.BodyTooLarge(5),
            -32603,
            "failed to read http/request response body: "
            "response body is larger than the limit of 5 bytes",
        ),
    ]
    for error, code, message in cases:
        assert (rpc_error(error).code, rpc_error(error).message) == (code, message)
