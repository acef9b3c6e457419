"""Both path forms over a real execsrv: 0.130's plain paths and 0.171's ``file:``
URIs, told apart per value (issue 10, point 1).

The URIs are built here with :func:`urllib.parse.quote`, not with execsrv's own
formatter, and the effects are checked on disk.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from ..conformance.support import (
    V0_130,
    b64,
    error,
    output_of,
    rpc,
    run_to_close,
    start_params,
    unb64,
)
from ..servers import open_execsrv
from ..wire import WireClient, open_wire
from .support import uri

AS_SPELLED = V0_130
"""The generation for conformance helpers whose cwd these tests spell out themselves
(0.130's helpers send a cwd as given)."""

ODD_NAME = b"odd dir 100% \xc3\xbc \xff"
"""A space, ``%``, non-ASCII and a byte that is not UTF-8."""


def read_bytes(path: bytes) -> bytes:
    with open(path, "rb") as file:
        return file.read()


def write_bytes(path: bytes, data: bytes) -> None:
    with open(path, "wb") as file:
        file.write(data)


def exists(path: bytes) -> bool:
    return os.path.lexists(path)


@pytest.fixture
def odd_dir(tmp_path: Path) -> bytes:
    directory = os.fsencode(tmp_path) + b"/" + ODD_NAME
    os.mkdir(directory)
    return directory


async def test_fs_methods_with_uris_on_odd_names(wire: WireClient, odd_dir: bytes) -> None:
    file, copy = odd_dir + b"/f 100%.txt", odd_dir + b"/g \xc3\xbc\xfe.txt"
    data = b"hello\n"
    write = {"path": uri(file), "dataBase64": b64(data)}
    assert await rpc(wire, "fs/writeFile", write) == {"result": {}}
    assert read_bytes(file) == data

    read = await rpc(wire, "fs/readFile", {"path": uri(file, host="localhost")})
    assert unb64(read["result"]["dataBase64"]) == data

    metadata = await rpc(wire, "fs/getMetadata", {"path": uri(odd_dir + b"/./x/../f 100%.txt")})
    assert metadata["result"]["isFile"] is True
    assert metadata["result"]["size"] == len(data)

    copy_params = {"sourcePath": uri(file), "destinationPath": uri(copy), "recursive": False}
    assert await rpc(wire, "fs/copy", copy_params) == {"result": {}}
    assert read_bytes(copy) == data

    listing = await rpc(wire, "fs/readDirectory", {"path": uri(odd_dir)})
    names = {entry["fileName"] for entry in listing["result"]["entries"]}
    assert names == {"f 100%.txt", "g \xfc\ufffd.txt"}  # names, not paths: no form

    assert await rpc(wire, "fs/remove", {"path": uri(copy)}) == {"result": {}}
    assert not exists(copy)
    assert await rpc(wire, "fs/createDirectory", {"path": uri(odd_dir + b"/sub")}) == {"result": {}}
    assert exists(odd_dir + b"/sub/.")


async def test_plain_paths_still_work(wire: WireClient, tmp_path: Path) -> None:
    file = tmp_path / "odd dir 100% ü" / "f.txt"
    file.parent.mkdir()
    file.write_bytes(b"x")
    read = await rpc(
        wire, "fs/readFile", {"path": str(file.parent / ".." / file.parent.name / "f.txt")}
    )
    assert read == {"result": {"dataBase64": b64(b"x")}}
    # No decoding in the plain form: `%20` is three characters of a name.
    missing = await rpc(wire, "fs/readFile", {"path": str(tmp_path / "odd%20dir")})
    assert missing["error"]["code"] == -32004


async def test_a_sandbox_with_uris(wire: WireClient, odd_dir: bytes) -> None:
    file = odd_dir + b"/f"
    write_bytes(file, b"x")
    disabled = {
        "permissions": {"type": "disabled"},
        "cwd": uri(odd_dir),
        "windowsSandboxLevel": "disabled",
    }
    read = await rpc(wire, "fs/readFile", {"path": uri(file), "sandbox": disabled})
    assert read == {"result": {"dataBase64": b64(b"x")}}

    def restricted(path: str) -> dict[str, Any]:
        entry = {"path": {"type": "path", "path": path}, "access": "read"}
        file_system = {"type": "restricted", "entries": [entry]}
        permissions = {"type": "managed", "file_system": file_system, "network": "restricted"}
        return {"permissions": permissions, "windowsSandboxLevel": "disabled"}

    decoded = await rpc(
        wire, "fs/readFile", {"path": uri(file), "sandbox": restricted(uri(odd_dir))}
    )
    assert decoded == {"result": {"dataBase64": b64(b"x")}}  # enforced, the URI decoded
    refused = await rpc(
        wire, "fs/readFile", {"path": uri(file), "sandbox": restricted("http://x/")}
    )
    # A URI path makes a 0.171 request, which words the bad entry (measured on 0.171.0).
    assert refused == {"error": error(-32602, "unsupported path URI scheme `http`")}
    untyped = {**disabled, "permissions": {"file_system": {"entries": []}}}
    assert await rpc(wire, "fs/readFile", {"path": uri(file), "sandbox": untyped}) == {
        "error": error(-32602, "missing field `type`")
    }
    bad_cwd = {**disabled, "cwd": "file:///x?y"}
    assert await rpc(wire, "fs/readFile", {"path": uri(file), "sandbox": bad_cwd}) == {
        "error": error(-32602, "query parameters are not allowed in path URIs")
    }


async def test_process_start_with_a_uri_cwd(wire: WireClient, odd_dir: bytes) -> None:
    events = await run_to_close(
        wire, AS_SPELLED, "pwd", ["/bin/sh", "-c", "pwd"], cwd=uri(odd_dir + b"/.")
    )
    assert output_of(events) == odd_dir + b"\n"
    events = await run_to_close(
        wire,
        AS_SPELLED,
        "pwd-localhost",
        ["/bin/sh", "-c", "pwd"],
        cwd=uri(odd_dir, host="localhost"),
    )
    assert output_of(events) == odd_dir + b"\n"


async def test_process_start_with_a_relative_plain_cwd(wire: WireClient) -> None:
    """0.130: relative to the server's cwd (the repository root, in open_execsrv)."""
    events = await run_to_close(wire, AS_SPELLED, "rel", ["/bin/sh", "-c", "pwd"], cwd="tests/fs")
    assert output_of(events).endswith(b"/tests/fs\n")


FS_ERRORS = [
    ("file://otherhost/tmp/x", -32600, "'file://otherhost/tmp/x' is invalid on 'linux'"),
    ("file://OtherHost/a/../b c", -32600, "'file://otherhost/b%20c' is invalid on 'linux'"),
    ("http://example.com/x", -32602, "unsupported path URI scheme `http`"),
    ("file:///x?y", -32602, "query parameters are not allowed in path URIs"),
    ("file:///x#y", -32602, "fragments are not allowed in path URIs"),
    ("file:///x%00y", -32602, "'file:///x%00y' is invalid on 'linux'"),
    ("rel", -32602, "AbsolutePathBuf deserialized without a base path"),
]


@pytest.mark.parametrize(("path", "code", "message"), FS_ERRORS)
async def test_fs_path_errors(wire: WireClient, path: str, code: int, message: str) -> None:
    for method, params in [
        ("fs/getMetadata", {"path": path}),
        ("fs/copy", {"sourcePath": "/tmp", "destinationPath": path, "recursive": True}),
    ]:
        assert await rpc(wire, method, params) == {"error": error(code, message)}


@pytest.mark.parametrize(("cwd", "code", "message"), FS_ERRORS[:-1])
async def test_process_start_cwd_errors(
    wire: WireClient, cwd: str, code: int, message: str
) -> None:
    params = start_params(AS_SPELLED, "p", ["/bin/true"], cwd=cwd)
    assert await rpc(wire, "process/start", params) == {"error": error(code, message)}
    # Nothing was started under that id.
    assert "result" in await rpc(
        wire, "process/start", start_params(AS_SPELLED, "p", ["/bin/true"])
    )


async def test_uri_syntax_is_checked_before_the_handshake_state(tmp_path: Path) -> None:
    """Like 0.130's plain-path check, 0.171's URI decoding comes before the handshake
    gate; a URI naming another host is refused by the handler, after it."""
    async with open_execsrv() as server, open_wire(server.url) as raw:
        bad = await rpc(raw, "fs/getMetadata", {"path": "http://x/"})
        assert bad == {"error": error(-32602, "unsupported path URI scheme `http`")}
        other_host = await rpc(raw, "fs/getMetadata", {"path": "file://otherhost/x"})
        gate = "client must call initialize before using filesystem methods"
        assert other_host == {"error": error(-32600, gate)}
