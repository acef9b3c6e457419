"""fs/* against both servers: results, exact codes and messages (spec §3, §4.7, §10).

Every test runs against execsrv and (with ``-m interop``) codex 0.130.0, on
real files under ``tmp_path`` (both servers run as this user, on this
machine). Branches on ``kind`` are only where execsrv deliberately differs:

- DESIGN.md §1.1.4: ``fs/copy`` of a file onto itself keeps the file (codex
  truncates it to nothing);
- DESIGN.md §1.2: the ``size`` field of ``fs/getMetadata`` is an execsrv extension;
- spec §10: execsrv has no sandbox helper, so a restricted ``sandbox`` profile is
  refused with ``-32600`` where codex runs the operation in its sandbox.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

import pytest

from execsrv.protocol.generation import Generation

from ..servers import ServerKind
from ..wire import WireClient
from .support import (
    V0_130,
    V0_171,
    assert_invalid_params,
    error,
    rpc_as,
    wire_path,
    without_extensions,
    xfail_on_execsrv,
)

NOT_ABSOLUTE = "AbsolutePathBuf deserialized without a base path"
PROFILE_MISMATCH = "data did not match any variant of untagged enum PermissionProfileDe"
METADATA_EXTENSIONS = frozenset({"size"})
NOWHERE = "/nonexistent-execsrv-conformance/x"
NEEDS_RECURSIVE = "fs/copy requires recursive: true when sourcePath is a directory"
INTO_ITSELF = "fs/copy cannot copy a directory to itself or one of its descendants"
UNSUPPORTED_TYPE = "fs/copy only supports regular files, directories, and symlinks"
ROOT_PATH = {"type": "special", "value": {"kind": "root"}}


def sandbox(permissions: Any, **extra: Any) -> dict[str, Any]:
    """A ``sandbox``; ``windowsSandboxLevel`` first, so serde meets it before ``permissions``."""
    return {"windowsSandboxLevel": "disabled", "permissions": permissions, **extra}


def managed(entries: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "type": "managed",
        "file_system": {"type": "restricted", "entries": entries},
        "network": "restricted",
    }


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


OK: dict[str, Any] = {"result": {}}


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """file, dir/sub/x, link -> file, dirlink -> dir, dangling -> nowhere, fifo."""
    (tmp_path / "file").write_bytes(b"hello\n")
    (tmp_path / "dir" / "sub").mkdir(parents=True)
    (tmp_path / "dir" / "sub" / "x").write_bytes(b"inner")
    (tmp_path / "link").symlink_to("file")
    (tmp_path / "dirlink").symlink_to("dir")
    (tmp_path / "dangling").symlink_to("nowhere")
    os.mkfifo(tmp_path / "fifo")
    return tmp_path


# -- invalid params (-32602) ------------------------------------------------------------

STRUCTS = {
    "fs/readFile": ("FsReadFileParams", 2),
    "fs/writeFile": ("FsWriteFileParams", 3),
    "fs/createDirectory": ("FsCreateDirectoryParams", 3),
    "fs/getMetadata": ("FsGetMetadataParams", 2),
    "fs/readDirectory": ("FsReadDirectoryParams", 2),
    "fs/remove": ("FsRemoveParams", 4),
    "fs/copy": ("FsCopyParams", 4),
}
FIELDS_0171 = {
    "fs/readFile": 3,
    "fs/writeFile": 4,
    "fs/createDirectory": 4,
    "fs/getMetadata": 3,
    "fs/readDirectory": 2,
    "fs/remove": 5,
    "fs/copy": 4,
}
"""0.171's field counts (``followSymlinks`` added; measured on 0.171.0)."""
COPY = {"sourcePath": NOWHERE, "destinationPath": NOWHERE + "2", "recursive": True}

NULL_PRIVATE_DESKTOP = sandbox({"type": "disabled"}, windowsSandboxPrivateDesktop=None)
DENY_ROOT = managed([{"path": ROOT_PATH, "access": "deny"}])

PROFILE_0171 = "expected internally tagged enum ExecPermissionProfile"
PROFILES: list[tuple[Any, str | None]] = [
    (5, f"invalid type: integer `5`, {PROFILE_0171}"),
    (None, f"invalid type: null, {PROFILE_0171}"),
    ([], "missing field `type`"),
    ("disabled", f'invalid type: string "disabled", {PROFILE_0171}'),
    (
        {"type": "bogus"},
        "unknown variant `bogus`, expected one of `managed`, `disabled`, `external`",
    ),
    ({"bogus": 1}, "missing field `type`"),
    ({"type": "external"}, "missing field `network`"),
    (
        {"type": "external", "network": "bogus"},
        "unknown variant `bogus`, expected `restricted` or `enabled`",
    ),
    (
        {"type": "managed", "fileSystem": {"type": "unrestricted"}, "network": "enabled"},
        "missing field `file_system`",
    ),
    ({"type": "managed", "file_system": {"type": "unrestricted"}}, "missing field `network`"),
    (
        {"type": "managed", "file_system": {"type": "restricted"}, "network": "restricted"},
        "missing field `entries`",
    ),
    (
        {
            "type": "managed",
            "file_system": {"type": "restricted", "entries": [], "glob_scan_max_depth": 0},
            "network": "restricted",
        },
        "invalid value: integer `0`, expected a nonzero usize",
    ),
    (DENY_ROOT, None),  # 0.171 has `deny`: see test_invalid_params
    (
        managed([{"path": {"type": "path", "path": "rel"}, "access": "read"}]),
        "invalid URI: relative URL without a base",
    ),
    (
        managed([{"path": {"type": "special", "value": {"kind": "bogus"}}, "access": "read"}]),
        "unknown variant `bogus`, expected one of `root`, `minimal`, "
        "`current_working_directory`, `project_roots`, `tmpdir`, `slash_tmp`, `unknown`",
    ),
    ({"file_system": {"entries": [{"path": ROOT_PATH}]}}, "missing field `type`"),
    (
        {"file_system": {}, "type": "disabled2"},
        "unknown variant `disabled2`, expected one of `managed`, `disabled`, `external`",
    ),
    (
        managed([{"path": ROOT_PATH, "access": "bogus"}]),
        "unknown variant `bogus`, expected one of `read`, `write`, `deny`, `none`",
    ),
    (
        managed([{"path": {"type": "bogus"}, "access": "read"}]),
        "unknown variant `bogus`, expected one of `path`, `glob_pattern`, `special`",
    ),
    (managed([{"path": ROOT_PATH}]), "missing field `access`"),
    (
        {"type": "managed", "file_system": 5, "network": "enabled"},
        "invalid type: integer `5`, expected internally tagged enum "
        "ExecManagedFileSystemPermissions",
    ),
    (
        {"type": "managed", "file_system": {"type": "bogus"}, "network": "enabled"},
        "unknown variant `bogus`, expected `restricted` or `unrestricted`",
    ),
    (
        {
            "type": "managed",
            "file_system": {"type": "restricted", "entries": 5},
            "network": "enabled",
        },
        "invalid type: integer `5`, expected a sequence",
    ),
    ({"type": 5}, "invalid type: number, expected variant identifier"),
    ({"type": "external", "network": 5}, "invalid type: integer `5`, expected string or map"),
]
"""Profiles 0.130 refuses with one text (:data:`PROFILE_MISMATCH`), with 0.171's text:
an internally tagged enum, read as buffered content (numbers keep their value);
measured on 0.171.0."""


def in_0171(method: str, params: Any, message: str) -> str | None:
    """0.171's text where it differs from 0.130's other than as
    :func:`~.support.in_0171` says (None: that one)."""
    sandbox_context = params.get("sandbox") if isinstance(params, dict) else None
    if message == PROFILE_MISMATCH and sandbox_context is not None:
        return dict((repr(p), text) for p, text in PROFILES)[repr(sandbox_context["permissions"])]
    if message.startswith("invalid length 0, expected struct Fs"):
        name = STRUCTS[method][0]
        return f"invalid length 0, expected struct Wire{name} with {FIELDS_0171[method]} elements"
    if message.startswith("unknown variant `Disabled`"):
        return message + ", `mxc`"  # 0.171 added a Windows sandbox level
    return None


PARAM_CASES: list[tuple[str, Any, str]] = [
    *[(m, None, f"invalid type: null, expected struct {s}") for m, (s, _) in STRUCTS.items()],
    *[
        (m, [], f"invalid length 0, expected struct {s} with {n} elements")
        for m, (s, n) in STRUCTS.items()
    ],
    *[(m, {}, "missing field `path`") for m in STRUCTS if m != "fs/copy"],
    ("fs/writeFile", {"path": NOWHERE}, "missing field `dataBase64`"),
    ("fs/copy", {}, "missing field `sourcePath`"),
    ("fs/copy", {"sourcePath": NOWHERE}, "missing field `destinationPath`"),
    ("fs/copy", {"sourcePath": NOWHERE, "destinationPath": NOWHERE}, "missing field `recursive`"),
    ("fs/readFile", {"path": 5}, "invalid type: integer `5`, expected path string"),
    ("fs/readFile", {"path": None}, "invalid type: null, expected path string"),
    ("fs/copy", {**COPY, "sourcePath": []}, "invalid type: sequence, expected path string"),
    *[
        ("fs/readFile", {"path": path}, NOT_ABSOLUTE)
        for path in ["etc/hostname", "", "./x", "~", "~/x"]
    ],
    ("fs/writeFile", {"path": "rel", "dataBase64": "aGk="}, NOT_ABSOLUTE),
    ("fs/writeFile", {"path": "rel", "dataBase64": "!"}, NOT_ABSOLUTE),  # before base64's -32600
    ("fs/createDirectory", {"path": "rel"}, NOT_ABSOLUTE),
    ("fs/getMetadata", {"path": "rel"}, NOT_ABSOLUTE),
    ("fs/readDirectory", {"path": "rel"}, NOT_ABSOLUTE),
    ("fs/remove", {"path": "rel"}, NOT_ABSOLUTE),
    ("fs/copy", {**COPY, "sourcePath": "rel"}, NOT_ABSOLUTE),
    ("fs/copy", {**COPY, "destinationPath": "rel"}, NOT_ABSOLUTE),
    (
        "fs/writeFile",
        {"path": NOWHERE, "dataBase64": 5},
        "invalid type: integer `5`, expected a string",
    ),
    (
        "fs/writeFile",
        {"path": NOWHERE, "dataBase64": None},
        "invalid type: null, expected a string",
    ),
    (
        "fs/createDirectory",
        {"path": NOWHERE, "recursive": "yes"},
        'invalid type: string "yes", expected a boolean',
    ),
    ("fs/remove", {"path": NOWHERE, "force": 1}, "invalid type: integer `1`, expected a boolean"),
    (
        "fs/remove",
        {"path": NOWHERE, "recursive": 0},
        "invalid type: integer `0`, expected a boolean",
    ),
    ("fs/copy", {**COPY, "recursive": None}, "invalid type: null, expected a boolean"),
    ("fs/copy", {**COPY, "recursive": "true"}, 'invalid type: string "true", expected a boolean'),
    # the sandbox field
    (
        "fs/readFile",
        {"path": NOWHERE, "sandbox": 5},
        "invalid type: integer `5`, expected struct FileSystemSandboxContext",
    ),
    ("fs/readFile", {"path": NOWHERE, "sandbox": {}}, "missing field `permissions`"),
    (
        "fs/readFile",
        {"path": NOWHERE, "sandbox": {"permissions": {"type": "disabled"}}},
        "missing field `windowsSandboxLevel`",
    ),
    (
        "fs/readFile",
        {"path": NOWHERE, "sandbox": sandbox({"type": "disabled"}, windowsSandboxLevel="Disabled")},
        "unknown variant `Disabled`, expected one of `disabled`, `restricted-token`, `elevated`",
    ),
    (
        "fs/readFile",
        {"path": NOWHERE, "sandbox": sandbox({"type": "disabled"}, windowsSandboxLevel=5)},
        "invalid type: integer `5`, expected string or map",
    ),
    (
        "fs/readFile",
        {"path": NOWHERE, "sandbox": sandbox({"type": "disabled"}, windowsSandboxLevel=None)},
        "invalid type: null, expected string or map",
    ),
    (
        "fs/readFile",
        {"path": NOWHERE, "sandbox": sandbox({"type": "disabled"}, cwd="rel")},
        NOT_ABSOLUTE,
    ),
    (
        "fs/readFile",
        {"path": NOWHERE, "sandbox": sandbox({"type": "disabled"}, cwd=5)},
        "invalid type: integer `5`, expected path string",
    ),
    (
        "fs/readFile",
        {
            "path": NOWHERE,
            "sandbox": NULL_PRIVATE_DESKTOP,
        },
        "invalid type: null, expected a boolean",
    ),
    (
        "fs/readFile",
        {"path": NOWHERE, "sandbox": sandbox({"type": "disabled"}, useLegacyLandlock="x")},
        'invalid type: string "x", expected a boolean',
    ),
    *[
        ("fs/readFile", {"path": NOWHERE, "sandbox": sandbox(permissions)}, PROFILE_MISMATCH)
        for permissions, _ in PROFILES
    ],
]


@pytest.mark.parametrize(
    ("method", "params", "message"),
    PARAM_CASES,
    ids=[f"{m}-{i}" for i, (m, _, _) in enumerate(PARAM_CASES)],
)
async def test_invalid_params(
    wire: WireClient,
    kind: ServerKind,
    generation: Generation,
    request: pytest.FixtureRequest,
    method: str,
    params: Any,
    message: str,
) -> None:
    sandbox_context = params.get("sandbox") if isinstance(params, dict) else None
    if generation is V0_171 and (
        sandbox_context == NULL_PRIVATE_DESKTOP or sandbox_context == sandbox(DENY_ROOT)
    ):
        # 0.171 accepts both (measured on 0.171.0), so the read runs and finds nothing;
        # execsrv confines the read with Landlock (issue 11, point 3) and agrees.
        response = await rpc_as(wire, generation, method, params)
        assert response == {"error": error(-32004, "No such file or directory (os error 2)")}
        return
    response = await rpc_as(wire, generation, method, params)
    assert_invalid_params(generation, response, message, in_0171(method, params, message))


async def test_a_file_uri_path(
    wire: WireClient, kind: ServerKind, tree: Path, generation: Generation
) -> None:
    """codex 0.130 refuses a ``file:`` URI; execsrv also serves 0.171, whose every
    path is one (issue 10), so it reads the file."""
    reply = await rpc_as(wire, generation, "fs/readFile", {"path": (tree / "file").as_uri()})
    if kind == "codex" and generation is V0_130:
        assert reply == {"error": error(-32602, NOT_ABSOLUTE)}
    else:
        assert reply == {"result": {"dataBase64": b64(b"hello\n")}}


VALID = {
    "fs/readFile": {"path": NOWHERE},
    "fs/writeFile": {"path": NOWHERE, "dataBase64": ""},
    "fs/createDirectory": {"path": NOWHERE},
    "fs/getMetadata": {"path": NOWHERE},
    "fs/readDirectory": {"path": NOWHERE},
    "fs/remove": {"path": NOWHERE},
    "fs/copy": COPY,
}


@pytest.mark.parametrize("method", list(VALID))
async def test_before_the_handshake(raw: WireClient, method: str, generation: Generation) -> None:
    before = "client must call initialize before using filesystem methods"
    assert await rpc_as(raw, generation, method, VALID[method]) == {"error": error(-32600, before)}
    assert "result" in await rpc_as(raw, generation, "initialize", {"clientName": "conformance"})
    after = "client must send initialized before using filesystem methods"
    assert await rpc_as(raw, generation, method, VALID[method]) == {"error": error(-32600, after)}


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"path": "rel"}, NOT_ABSOLUTE),
        ({"path": NOWHERE, "sandbox": sandbox(5)}, PROFILE_MISMATCH),
        ({"path": NOWHERE, "sandbox": sandbox({"type": "disabled"}, cwd="rel")}, NOT_ABSOLUTE),
    ],
)
async def test_paths_and_sandbox_are_checked_before_the_handshake_state(
    raw: WireClient,
    kind: ServerKind,
    params: dict[str, Any],
    message: str,
    generation: Generation,
) -> None:
    """They are part of decoding the params (serde), which comes first.

    A relative path alone says no generation, and before ``initialize`` there is no
    session to say one, so execsrv words it as 0.130 (issue 10: no global flag)."""
    response = await rpc_as(raw, generation, "fs/getMetadata", params)
    if kind == "execsrv" and params == {"path": "rel"}:
        assert response["error"] == error(-32602, NOT_ABSOLUTE)
        return
    assert_invalid_params(generation, response, message, in_0171("", params, message))


async def test_params_as_a_sequence(
    wire: WireClient,
    kind: ServerKind,
    request: pytest.FixtureRequest,
    tree: Path,
    generation: Generation,
) -> None:
    """serde's struct-as-array form, here for the sandbox struct nested in params."""
    xfail_on_execsrv(request, kind, "execsrv does not decode structs given as JSON arrays")
    params = {"path": str(tree / "file"), "sandbox": []}
    message = "invalid length 0, expected struct FileSystemSandboxContext with 5 elements"
    message_0171 = "invalid length 0, expected struct WireFileSystemSandboxContext with 10 elements"
    response = await rpc_as(wire, generation, "fs/readFile", params)
    assert_invalid_params(generation, response, message, message_0171)


async def test_permissions_are_checked_before_missing_fields(
    wire: WireClient,
    kind: ServerKind,
    request: pytest.FixtureRequest,
    generation: Generation,
) -> None:
    """serde fails at the bad value at once; execsrv reports missing fields first."""
    xfail_on_execsrv(request, kind, "execsrv checks permissions after the struct is decoded")
    params = {"path": NOWHERE, "sandbox": {"permissions": 5}}
    response = await rpc_as(wire, generation, "fs/readFile", params)
    assert_invalid_params(
        generation, response, PROFILE_MISMATCH, in_0171("", params, PROFILE_MISMATCH)
    )


async def test_windows_sandbox_level_as_a_map(
    wire: WireClient,
    kind: ServerKind,
    request: pytest.FixtureRequest,
    tree: Path,
    generation: Generation,
) -> None:
    """serde accepts a unit variant as ``{"name": null}`` too."""
    xfail_on_execsrv(request, kind, "execsrv accepts only the string form of enums")
    level = sandbox({"type": "disabled"}, windowsSandboxLevel={"disabled": None})
    params = {"path": str(tree / "file"), "sandbox": level}
    assert await rpc_as(wire, generation, "fs/readFile", params) == {
        "result": {"dataBase64": b64(b"hello\n")}
    }


# -- fs/readFile --------------------------------------------------------------------------


async def test_read_file(wire: WireClient, tree: Path, generation: Generation) -> None:
    data = bytes(range(256)) * 4
    (tree / "bin").write_bytes(data)
    assert await rpc_as(wire, generation, "fs/readFile", {"path": str(tree / "bin")}) == {
        "result": {"dataBase64": b64(data)}
    }
    for spelling in [
        f"{tree}/link",
        f"{tree}/dir/../file",
        f"{tree}/./file/",
        f"/{tree}//file",
        f"{tree}/missing/../file",  # lexical: the missing part is never looked up
        f"/../..{tree}/file",
    ]:
        response = await rpc_as(
            wire, generation, "fs/readFile", {"path": spelling, "sandbox": None}
        )
        assert response == {"result": {"dataBase64": b64(b"hello\n")}}, spelling


async def test_read_empty_and_fifo(wire: WireClient, tree: Path, generation: Generation) -> None:
    (tree / "empty").write_bytes(b"")
    assert await rpc_as(wire, generation, "fs/readFile", {"path": str(tree / "empty")}) == {
        "result": {"dataBase64": ""}
    }


@pytest.mark.parametrize(
    ("name", "code", "message"),
    [
        ("missing", -32004, "No such file or directory (os error 2)"),
        ("dangling", -32004, "No such file or directory (os error 2)"),
        ("missing/x", -32004, "No such file or directory (os error 2)"),
        ("file/x", -32603, "Not a directory (os error 20)"),
    ],
)
async def test_read_file_errors(
    wire: WireClient,
    tree: Path,
    name: str,
    code: int,
    message: str,
    generation: Generation,
) -> None:
    response = await rpc_as(wire, generation, "fs/readFile", {"path": f"{tree}/{name}"})
    assert response == {"error": error(code, message)}


async def test_read_file_of_a_directory(
    wire: WireClient,
    kind: ServerKind,
    generation: Generation,
    request: pytest.FixtureRequest,
    tree: Path,
) -> None:
    response = await rpc_as(wire, generation, "fs/readFile", {"path": f"{tree}/dir"})
    if generation is V0_130:
        assert response == {"error": error(-32603, "Is a directory (os error 21)")}
    else:
        # codex-exec-server-0.171.md §2.4: 0.171 refuses it before opening, naming the path.
        assert response == {"error": error(-32600, f"path `{tree}/dir` is not a file")}


async def test_read_file_with_a_nul_byte(
    wire: WireClient, kind: ServerKind, generation: Generation, tree: Path
) -> None:
    response = await rpc_as(wire, generation, "fs/readFile", {"path": f"{tree}/fi\0le"})
    if generation is V0_130:
        assert response == {"error": error(-32600, "file name contained an unexpected NUL byte")}
    else:
        # A URI carries the NUL as %00, which 0.171 refuses while decoding the params
        # (measured on 0.171.0).
        uri = wire_path(generation, f"{tree}/fi\0le")
        assert response == {"error": error(-32602, f"'{uri}' is invalid on 'linux'")}


@pytest.fixture
def huge(tmp_path: Path) -> Path:
    """A sparse file one byte over 512 MiB (no disk blocks)."""
    with open(tmp_path / "huge", "wb") as handle:
        handle.truncate(512 * 1024 * 1024 + 1)
    return tmp_path / "huge"


async def test_read_file_size_limit(wire: WireClient, huge: Path, generation: Generation) -> None:
    """512 MiB is the limit, checked on the size before reading."""
    limit = 512 * 1024 * 1024
    response = await rpc_as(wire, generation, "fs/readFile", {"path": str(huge)})
    assert response == {
        "error": error(-32600, f"file is too large to read: limit is {limit} bytes")
    }


# -- fs/writeFile -------------------------------------------------------------------------


async def test_write_file_creates_and_truncates(
    wire: WireClient, tree: Path, generation: Generation
) -> None:
    target = tree / "new"
    assert (
        await rpc_as(
            wire, generation, "fs/writeFile", {"path": str(target), "dataBase64": b64(b"1234567")}
        )
        == OK
    )
    assert target.read_bytes() == b"1234567"
    assert (
        await rpc_as(
            wire, generation, "fs/writeFile", {"path": str(target), "dataBase64": b64(b"ab")}
        )
        == OK
    )
    assert target.read_bytes() == b"ab"
    assert (
        await rpc_as(wire, generation, "fs/writeFile", {"path": str(target), "dataBase64": ""})
        == OK
    )
    assert target.read_bytes() == b""
    assert (
        await rpc_as(
            wire, generation, "fs/writeFile", {"path": f"{tree}/link", "dataBase64": "eA=="}
        )
        == OK
    )
    assert (tree / "file").read_bytes() == b"x"
    assert (tree / "link").is_symlink()


BAD_BASE64 = [
    ("!!", "Invalid symbol 33, offset 0."),
    ("aGk!", "Invalid symbol 33, offset 3."),
    ("aGk", "Invalid padding"),
    ("a", "Invalid input length: 1"),
    ("aGkKa", "Invalid input length: 5"),
    ("aGk=aGk=", "Invalid symbol 61, offset 3."),
    ("aGkK\n", "Invalid symbol 10, offset 4."),
    ("aGkK-_==", "Invalid symbol 45, offset 4."),
    ("é", "Invalid symbol 195, offset 0."),
    ("aGl=", "Invalid last symbol 108, offset 2."),  # non-zero trailing bits
    ("aR==", "Invalid last symbol 82, offset 1."),
]


@pytest.mark.parametrize(("data", "reason"), BAD_BASE64)
async def test_write_file_bad_base64_is_invalid_request(
    wire: WireClient,
    tmp_path: Path,
    data: str,
    reason: str,
    generation: Generation,
) -> None:
    """-32600, not -32602: the handler decodes the base64, not serde."""
    response = await rpc_as(
        wire, generation, "fs/writeFile", {"path": str(tmp_path / "f"), "dataBase64": data}
    )
    message = f"fs/writeFile requires valid base64 dataBase64: {reason}"
    assert response == {"error": error(-32600, message)}
    assert not (tmp_path / "f").exists()


@pytest.mark.parametrize(
    ("name", "code", "message"),
    [
        ("missing/x", -32004, "No such file or directory (os error 2)"),
        ("dangling/x", -32004, "No such file or directory (os error 2)"),
        ("dir", -32603, "Is a directory (os error 21)"),
        ("file/x", -32603, "Not a directory (os error 20)"),
    ],
)
async def test_write_file_errors(
    wire: WireClient,
    tree: Path,
    name: str,
    code: int,
    message: str,
    generation: Generation,
) -> None:
    response = await rpc_as(
        wire, generation, "fs/writeFile", {"path": f"{tree}/{name}", "dataBase64": "eA=="}
    )
    assert response == {"error": error(code, message)}


# -- fs/createDirectory -------------------------------------------------------------------


async def test_create_directory(wire: WireClient, tree: Path, generation: Generation) -> None:
    assert await rpc_as(wire, generation, "fs/createDirectory", {"path": f"{tree}/a/b/c"}) == OK
    assert (tree / "a" / "b" / "c").is_dir()
    for params in [
        {"path": f"{tree}/a/b/c"},  # exists: fine when recursive
        {"path": f"{tree}/a/b/c", "recursive": None},
        {"path": f"{tree}/a/b/c", "recursive": True},
        {"path": f"{tree}/dirlink"},
        {"path": f"{tree}/dirlink/new"},
        {"path": f"{tree}/single", "recursive": False},
    ]:
        assert await rpc_as(wire, generation, "fs/createDirectory", params) == OK, params
    assert (tree / "dir" / "new").is_dir()
    assert (tree / "single").is_dir()


@pytest.mark.parametrize(
    ("name", "recursive", "code", "message"),
    [
        ("file", None, -32603, "File exists (os error 17)"),
        ("file/x", None, -32603, "Not a directory (os error 20)"),
        ("dangling/x", None, -32603, "File exists (os error 17)"),
        ("dir", False, -32603, "File exists (os error 17)"),
        ("missing/x", False, -32004, "No such file or directory (os error 2)"),
    ],
)
async def test_create_directory_errors(
    wire: WireClient,
    tree: Path,
    name: str,
    recursive: bool | None,
    code: int,
    message: str,
    generation: Generation,
) -> None:
    params = {"path": f"{tree}/{name}", "recursive": recursive}
    assert await rpc_as(wire, generation, "fs/createDirectory", params) == {
        "error": error(code, message)
    }


# -- fs/getMetadata -----------------------------------------------------------------------


async def _metadata(
    wire: WireClient, generation: Generation, kind: str, path: Path | str
) -> dict[str, Any]:
    response = await rpc_as(wire, generation, "fs/getMetadata", {"path": str(path)})
    assert "result" in response, response
    if generation is V0_171:  # codex-exec-server-0.171.md §2.4: `size` is 0.171's own field
        return {k: v for k, v in response["result"].items() if k != "size"}
    return without_extensions(kind, response["result"], METADATA_EXTENSIONS)


def _mtime_ms(path: Path) -> int:
    return os.stat(path).st_mtime_ns // 1_000_000


@pytest.mark.parametrize(
    ("name", "flags"),
    [
        ("file", (False, True, False)),
        ("dir", (True, False, False)),
        ("link", (False, True, True)),
        ("dirlink", (True, False, True)),
        ("dirlink/", (True, False, True)),  # a trailing slash is normalised away
        ("fifo", (False, False, False)),
    ],
)
async def test_get_metadata(
    wire: WireClient,
    kind: ServerKind,
    tree: Path,
    name: str,
    flags: tuple[bool, bool, bool],
    generation: Generation,
) -> None:
    is_directory, is_file, is_symlink = flags
    assert await _metadata(wire, generation, kind, f"{tree}/{name}") == {
        "isDirectory": is_directory,
        "isFile": is_file,
        "isSymlink": is_symlink,
        "createdAtMs": 0,
        "modifiedAtMs": _mtime_ms(tree / name),
    }


async def test_get_metadata_size_is_an_execsrv_extension(
    wire: WireClient,
    kind: ServerKind,
    tree: Path,
    generation: Generation,
) -> None:
    response = await rpc_as(wire, generation, "fs/getMetadata", {"path": f"{tree}/link"})
    if kind == "codex" and generation is V0_130:
        assert "size" not in response["result"]
    else:
        assert response["result"]["size"] == 6  # the target's size


@pytest.mark.parametrize(
    ("name", "code", "message"),
    [
        ("missing", -32004, "No such file or directory (os error 2)"),
        ("dangling", -32004, "No such file or directory (os error 2)"),
        ("file/x", -32603, "Not a directory (os error 20)"),
        ("loop", -32603, "Symbolic link loop (os error 40)"),
    ],
)
async def test_get_metadata_errors(
    wire: WireClient,
    tree: Path,
    name: str,
    code: int,
    message: str,
    generation: Generation,
) -> None:
    (tree / "loop").symlink_to("loop")
    response = await rpc_as(wire, generation, "fs/getMetadata", {"path": f"{tree}/{name}"})
    assert response == {"error": error(code, message)}


# -- fs/readDirectory ---------------------------------------------------------------------


def _sorted_entries(response: dict[str, Any]) -> list[dict[str, Any]]:
    assert "result" in response, response
    return sorted(response["result"]["entries"], key=lambda e: e["fileName"])


async def test_read_directory(wire: WireClient, tree: Path, generation: Generation) -> None:
    """Types follow symlinks; a dangling symlink is left out; no `.` or `..`."""
    for name in ["é", "日本語", "with space"]:
        (tree / "dir" / name).write_bytes(b"")
    response = await rpc_as(wire, generation, "fs/readDirectory", {"path": str(tree)})
    assert _sorted_entries(response) == [
        {"fileName": "dir", "isDirectory": True, "isFile": False},
        {"fileName": "dirlink", "isDirectory": True, "isFile": False},
        {"fileName": "fifo", "isDirectory": False, "isFile": False},
        {"fileName": "file", "isDirectory": False, "isFile": True},
        {"fileName": "link", "isDirectory": False, "isFile": True},
    ]
    response = await rpc_as(wire, generation, "fs/readDirectory", {"path": f"{tree}/dirlink"})
    assert [e["fileName"] for e in _sorted_entries(response)] == [
        "sub",
        "with space",
        "é",
        "日本語",
    ]


async def test_read_directory_lossy_names(
    wire: WireClient, tmp_path: Path, generation: Generation
) -> None:
    os.close(os.open(os.path.join(os.fsencode(tmp_path), b"bad\xffname"), os.O_CREAT, 0o644))
    response = await rpc_as(wire, generation, "fs/readDirectory", {"path": str(tmp_path)})
    assert _sorted_entries(response) == [
        {"fileName": "bad\ufffdname", "isDirectory": False, "isFile": True}
    ]


async def test_read_directory_with_many_entries(
    wire: WireClient, tmp_path: Path, generation: Generation
) -> None:
    for i in range(3000):
        os.close(os.open(tmp_path / f"n{i}", os.O_CREAT | os.O_WRONLY, 0o644))
    response = await rpc_as(wire, generation, "fs/readDirectory", {"path": str(tmp_path)})
    assert {e["fileName"] for e in response["result"]["entries"]} == {f"n{i}" for i in range(3000)}


@pytest.mark.parametrize(
    ("name", "code", "message"),
    [
        ("missing", -32004, "No such file or directory (os error 2)"),
        ("dangling", -32004, "No such file or directory (os error 2)"),
        ("file", -32603, "Not a directory (os error 20)"),
    ],
)
async def test_read_directory_errors(
    wire: WireClient,
    tree: Path,
    name: str,
    code: int,
    message: str,
    generation: Generation,
) -> None:
    response = await rpc_as(wire, generation, "fs/readDirectory", {"path": f"{tree}/{name}"})
    assert response == {"error": error(code, message)}


# -- fs/remove ----------------------------------------------------------------------------


async def test_remove(wire: WireClient, tree: Path, generation: Generation) -> None:
    """Symlinks are removed, never followed; defaults are recursive and force."""
    for name in ["dirlink", "link", "dangling", "fifo", "missing"]:
        assert await rpc_as(wire, generation, "fs/remove", {"path": f"{tree}/{name}"}) == OK, name
    assert (tree / "dir" / "sub" / "x").read_bytes() == b"inner"
    assert (tree / "file").read_bytes() == b"hello\n"
    (tree / "empty").mkdir()
    params = {"path": f"{tree}/empty", "recursive": False, "force": False}
    assert await rpc_as(wire, generation, "fs/remove", params) == OK
    assert await rpc_as(wire, generation, "fs/remove", {"path": f"{tree}/dir"}) == OK
    assert (
        await rpc_as(wire, generation, "fs/remove", {"path": f"{tree}/file", "recursive": None})
        == OK
    )
    assert os.listdir(tree) == []


@pytest.mark.parametrize(
    ("name", "options", "code", "message"),
    [
        ("dir", {"recursive": False}, -32603, "Directory not empty (os error 39)"),
        ("missing", {"force": False}, -32004, "No such file or directory (os error 2)"),
        ("file/x", {}, -32603, "Not a directory (os error 20)"),
        ("file/x", {"force": False}, -32603, "Not a directory (os error 20)"),
    ],
)
async def test_remove_errors(
    wire: WireClient,
    tree: Path,
    name: str,
    options: dict[str, Any],
    code: int,
    message: str,
    generation: Generation,
) -> None:
    response = await rpc_as(wire, generation, "fs/remove", {"path": f"{tree}/{name}", **options})
    assert response == {"error": error(code, message)}


# -- fs/copy ------------------------------------------------------------------------------


async def _copy(
    wire: WireClient,
    generation: Generation,
    source: Path | str,
    destination: Path | str,
    recursive: bool,
):
    params = {
        "sourcePath": str(source),
        "destinationPath": str(destination),
        "recursive": recursive,
    }
    return await rpc_as(wire, generation, "fs/copy", params)


async def test_copy_a_file(wire: WireClient, tree: Path, generation: Generation) -> None:
    (tree / "file").chmod(0o640)
    assert await _copy(wire, generation, tree / "file", tree / "copy", False) == OK
    assert (tree / "copy").read_bytes() == b"hello\n"
    assert (tree / "copy").stat().st_mode & 0o777 == 0o640
    (tree / "longer").write_bytes(b"previous, longer content")
    assert await _copy(wire, generation, tree / "file", tree / "longer", True) == OK
    assert (tree / "longer").read_bytes() == b"hello\n"


@pytest.mark.parametrize("onto", ["file", "link"])
async def test_copy_a_file_onto_itself(
    wire: WireClient,
    kind: ServerKind,
    tree: Path,
    onto: str,
    generation: Generation,
) -> None:
    """DESIGN.md §1.1.4: execsrv keeps the file; codex truncates it to nothing."""
    assert await _copy(wire, generation, tree / "file", tree / onto, False) == OK
    expected = b"" if kind == "codex" else b"hello\n"
    assert (tree / "file").read_bytes() == expected


async def test_copy_symlinks_as_symlinks(
    wire: WireClient, tree: Path, generation: Generation
) -> None:
    assert await _copy(wire, generation, tree / "link", tree / "link2", False) == OK
    assert await _copy(wire, generation, tree / "dirlink", tree / "dirlink2", True) == OK
    assert await _copy(wire, generation, tree / "dangling", tree / "dangling2", False) == OK
    assert os.readlink(tree / "link2") == "file"
    assert os.readlink(tree / "dirlink2") == "dir"
    assert os.readlink(tree / "dangling2") == "nowhere"
    response = await _copy(wire, generation, tree / "link", tree / "link2", False)
    assert response == {"error": error(-32603, "File exists (os error 17)")}


async def test_copy_a_tree_merges(wire: WireClient, tree: Path, generation: Generation) -> None:
    (tree / "dest" / "sub").mkdir(parents=True)
    (tree / "dest" / "sub" / "kept").write_bytes(b"k")
    (tree / "dir" / "sub" / "ln").symlink_to("x")
    assert await _copy(wire, generation, tree / "dir", tree / "dest", True) == OK
    assert sorted(p.name for p in (tree / "dest" / "sub").iterdir()) == ["kept", "ln", "x"]
    assert (tree / "dest" / "sub" / "x").read_bytes() == b"inner"
    assert os.readlink(tree / "dest" / "sub" / "ln") == "x"
    assert await _copy(wire, generation, tree / "dir", tree / "new" / "deeper", True) == OK
    assert (tree / "new" / "deeper" / "sub" / "x").read_bytes() == b"inner"


@pytest.mark.parametrize(
    ("source", "destination", "recursive", "code", "message"),
    [
        ("dir", "copy", False, -32600, NEEDS_RECURSIVE),
        ("dir", "dir", True, -32600, INTO_ITSELF),
        ("dir", "dir/sub/in", True, -32600, INTO_ITSELF),
        ("dir", "dirlink/in", True, -32600, INTO_ITSELF),
        ("fifo", "fifo2", False, -32600, UNSUPPORTED_TYPE),
        ("fifo", "fifo2", True, -32600, UNSUPPORTED_TYPE),
        ("file", "dir", False, -32603, "Is a directory (os error 21)"),
        ("dir", "file", True, -32603, "File exists (os error 17)"),
        ("missing", "x", False, -32004, "No such file or directory (os error 2)"),
        ("dangling/x", "x", False, -32004, "No such file or directory (os error 2)"),
        ("file", "missing/x", False, -32004, "No such file or directory (os error 2)"),
    ],
)  # fmt: skip
async def test_copy_errors(
    wire: WireClient,
    tree: Path,
    source: str,
    destination: str,
    recursive: bool,
    code: int,
    message: str,
    generation: Generation,
) -> None:
    response = await _copy(wire, generation, f"{tree}/{source}", f"{tree}/{destination}", recursive)
    assert response == {"error": error(code, message)}


# -- the sandbox field (spec §10) -----------------------------------------------------------


async def refused_untyped_profile(
    wire: WireClient,
    generation: Generation,
    kind: ServerKind,
    request: pytest.FixtureRequest,
    permissions: dict[str, Any],
    method: str,
    params: dict[str, Any],
) -> bool:
    """In 0.171, check that a profile without ``type`` is refused; True if it was one.

    0.171's profile is an internally tagged enum (measured on 0.171.0, not in
    codex-exec-server-0.171.md yet): ``missing field `type```, where 0.130 read the
    untyped legacy form. A request with a URI path is read as 0.171's.
    """
    if generation is V0_130 or "type" in permissions:
        return False
    response = await rpc_as(wire, generation, method, params)
    assert response == {"error": error(-32602, "missing field `type`")}
    return True


DIRECT_PROFILES = [
    {"type": "disabled"},
    {"type": "disabled", "ignored": 1},
    {"type": "external", "network": "restricted"},
    {"type": "managed", "file_system": {"type": "unrestricted"}, "network": "enabled"},
    managed([{"path": ROOT_PATH, "access": "write"}]),
    {"file_system": {"entries": [{"path": ROOT_PATH, "access": "write"}]}, "network": {}},
]


@pytest.mark.parametrize("permissions", DIRECT_PROFILES)
async def test_profiles_that_run_directly(
    wire: WireClient,
    tmp_path: Path,
    permissions: dict[str, Any],
    generation: Generation,
    kind: ServerKind,
    request: pytest.FixtureRequest,
) -> None:
    """No restriction on the file system (or write access to the root): no sandbox."""
    outside = tmp_path / "written"
    extra = {"sandbox": sandbox(permissions, cwd=str(tmp_path), useLegacyLandlock=True)}
    params = {"path": str(outside), "dataBase64": "eA==", **extra}
    if await refused_untyped_profile(
        wire, generation, kind, request, permissions, "fs/writeFile", params
    ):
        return
    assert await rpc_as(wire, generation, "fs/writeFile", params) == OK
    response = await rpc_as(wire, generation, "fs/readFile", {"path": str(outside), **extra})
    assert response == {"result": {"dataBase64": "eA=="}}


async def test_restricted_profile(
    wire: WireClient, kind: ServerKind, tmp_path: Path, generation: Generation
) -> None:
    """codex runs the operation in its sandbox helper (writes outside the writable roots
    fail with EROFS); execsrv has no sandbox and refuses the profile."""
    writable = tmp_path / "writable"
    writable.mkdir()
    (tmp_path / "readable").write_bytes(b"r")
    profile = sandbox(
        managed(
            [
                {"path": ROOT_PATH, "access": "read"},
                {"path": {"type": "path", "path": str(writable)}, "access": "write"},
            ]
        )
    )
    inside = {"path": str(writable / "f"), "dataBase64": "eA==", "sandbox": profile}
    outside = {"path": str(tmp_path / "f"), "dataBase64": "eA==", "sandbox": profile}
    read = {"path": str(tmp_path / "readable"), "sandbox": profile}
    assert await rpc_as(wire, generation, "fs/writeFile", inside) == OK
    assert await rpc_as(wire, generation, "fs/writeFile", outside) == {
        "error": error(-32603, "Read-only file system (os error 30)")
    }
    assert await rpc_as(wire, generation, "fs/readFile", read) == {"result": {"dataBase64": "cg=="}}
    assert (writable / "f").read_bytes() == b"x"
    assert not (tmp_path / "f").exists()


@pytest.mark.parametrize(
    "permissions",
    [
        {},
        {"network": {"enabled": True}},
        {"file_system": None, "network": None},
        managed([]),
        managed([{"path": ROOT_PATH, "access": "write"}, {"path": ROOT_PATH, "access": "none"}]),
    ],
)
async def test_profiles_without_any_access(
    wire: WireClient,
    kind: ServerKind,
    tree: Path,
    permissions: dict[str, Any],
    generation: Generation,
    request: pytest.FixtureRequest,
) -> None:
    """No readable entry: codex's sandbox sees nothing (not found); execsrv's Landlock
    denial reads the same."""
    params = {"path": f"{tree}/file", "sandbox": sandbox(permissions)}
    if await refused_untyped_profile(
        wire, generation, kind, request, permissions, "fs/readFile", params
    ):
        return
    response = await rpc_as(wire, generation, "fs/readFile", params)
    assert response == {"error": error(-32004, "No such file or directory (os error 2)")}


async def test_bad_base64_comes_before_the_sandbox_refusal(
    wire: WireClient,
    kind: ServerKind,
    tmp_path: Path,
    generation: Generation,
) -> None:
    # 0.171 refuses an untyped profile while decoding (see refused_untyped_profile).
    permissions = {} if generation is V0_130 else managed([])
    params = {"path": str(tmp_path / "f"), "dataBase64": "!", "sandbox": sandbox(permissions)}
    message = "fs/writeFile requires valid base64 dataBase64: Invalid symbol 33, offset 0."
    assert await rpc_as(wire, generation, "fs/writeFile", params) == {
        "error": error(-32600, message)
    }
