"""The filesystem methods codex 0.171 added, and its ``followSymlinks`` and
``fs/readFile`` rules, on the wire (issue 10, point 3).

0.171 speaks URI paths only, so these tests send ``file://`` URIs. They run
against execsrv, and under the ``interop`` mark against the codex 0.171 binary
(``EXECSRV_CODEX_171_BIN``; this module starts it itself until the interop
fixtures serve 0.171). Where execsrv differs on purpose, the test says so and
branches on ``kind``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import trio

from ..fs.support import uri
from ..wire import WireClient, open_wire
from .conftest import ONLY_0171
from .support import WAIT, b64, error, rpc

pytestmark = ONLY_0171


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path.resolve()
    (root / "f").write_bytes(b"hello world")
    (root / "dir").mkdir()
    (root / "dir" / "in").write_bytes(b"x")
    (root / "lnk").symlink_to("f")
    (root / "dlnk").symlink_to("dir")
    (root / "dangling").symlink_to("nowhere")
    os.mkfifo(root / "fifo")
    return root


async def fs_open(wire: WireClient, handle_id: str, path: Path, **extra: Any) -> dict[str, Any]:
    return await rpc(wire, "fs/open", {"handleId": handle_id, "path": uri(path), **extra})


async def read_block(wire: WireClient, handle_id: str, offset: int, length: int) -> Any:
    return await rpc(wire, "fs/readBlock", {"handleId": handle_id, "offset": offset, "len": length})


async def write_block(wire: WireClient, handle_id: str, offset: int, data: bytes) -> Any:
    return await rpc(
        wire, "fs/writeBlock", {"handleId": handle_id, "offset": offset, "chunk": b64(data)}
    )


# -- fs/open, fs/readBlock, fs/writeBlock, fs/close -------------------------------------


async def test_read_blocks(wire: WireClient, tree: Path) -> None:
    assert await fs_open(wire, "h1", tree / "f") == {"result": {"handleId": "h1"}}
    assert await read_block(wire, "h1", 0, 5) == {"result": {"chunk": b64(b"hello"), "eof": False}}
    exact = {"result": {"chunk": b64(b"hello world"), "eof": False}}
    assert await read_block(wire, "h1", 0, 11) == exact  # eof: fewer bytes than asked
    assert await read_block(wire, "h1", 6, 100) == {"result": {"chunk": b64(b"world"), "eof": True}}
    assert await read_block(wire, "h1", 100, 1) == {"result": {"chunk": "", "eof": True}}
    assert await fs_open(wire, "via-link", tree / "lnk") == {"result": {"handleId": "via-link"}}


async def test_write_blocks(wire: WireClient, tree: Path) -> None:
    target = tree / "new"
    assert await fs_open(wire, "w", target, mode="replace") == {"result": {"handleId": "w"}}
    assert await write_block(wire, "w", 5, b"hi") == {"result": {}}
    assert target.read_bytes() == b"\0\0\0\0\0hi"  # visible before the close
    assert await rpc(wire, "fs/close", {"handleId": "w"}) == {"result": {}}
    assert await fs_open(wire, "t", tree / "f", mode="replace") == {"result": {"handleId": "t"}}
    assert (tree / "f").read_bytes() == b""  # truncated at open


async def test_block_lengths(wire: WireClient, tree: Path) -> None:
    await fs_open(wire, "r", tree / "f")
    await fs_open(wire, "w", tree / "new", mode="replace")
    read_length = error(-32600, "file read block length must be between 1 and 1048576")
    write_length = error(-32600, "file write block length must be between 1 and 1048576")
    for length in (0, 1048577):
        assert await read_block(wire, "r", 0, length) == {"error": read_length}
        assert await read_block(wire, "unknown", 0, length) == {"error": read_length}
    assert await read_block(wire, "r", 0, 1048576) == {
        "result": {"chunk": b64(b"hello world"), "eof": True}
    }
    assert await write_block(wire, "w", 0, b"") == {"error": write_length}
    assert await write_block(wire, "unknown", 0, b"") == {"error": write_length}
    assert await write_block(wire, "w", 0, b"x" * 1048577) == {"error": write_length}


async def test_handle_ids(wire: WireClient, tree: Path) -> None:
    assert await fs_open(wire, "", tree / "f") == {"result": {"handleId": ""}}
    assert await fs_open(wire, "x" * 32, tree / "f") == {"result": {"handleId": "x" * 32}}
    assert await fs_open(wire, "ü" * 16, tree / "f") == {"result": {"handleId": "ü" * 16}}
    too_long = error(-32600, "file handle ID must not exceed 32 bytes")
    assert await fs_open(wire, "x" * 33, tree / "f") == {"error": too_long}
    assert await fs_open(wire, "ü" * 17, tree / "f") == {"error": too_long}
    exists = error(-32600, "file handle `` already exists")
    assert await fs_open(wire, "", tree / "f") == {"error": exists}


async def test_128_handles_per_connection(wire: WireClient, tree: Path) -> None:
    for index in range(128):
        assert "result" in await fs_open(wire, f"h{index}", tree / "f")
    full = error(-32600, "at most 128 file handles may be open per connection")
    assert await fs_open(wire, "more", tree / "f") == {"error": full}
    exists = error(-32600, "file handle `h5` already exists")
    assert await fs_open(wire, "h5", tree / "f") == {"error": exists}  # checked first
    assert await fs_open(wire, "more", tree / "missing") == {"error": full}
    assert await rpc(wire, "fs/close", {"handleId": "h0"}) == {"result": {}}
    assert await fs_open(wire, "more", tree / "f") == {"result": {"handleId": "more"}}


async def test_unknown_and_closed_handles(wire: WireClient, tree: Path) -> None:
    unknown = error(-32004, "unknown file handle `zz`")
    assert await read_block(wire, "zz", 0, 1) == {"error": unknown}
    assert await write_block(wire, "zz", 0, b"x") == {"error": unknown}
    assert await rpc(wire, "fs/close", {"handleId": "zz"}) == {"result": {}}
    await fs_open(wire, "zz", tree / "f")
    assert await rpc(wire, "fs/close", {"handleId": "zz"}) == {"result": {}}
    assert await rpc(wire, "fs/close", {"handleId": "zz"}) == {"result": {}}
    assert await read_block(wire, "zz", 0, 1) == {"error": unknown}


async def test_the_wrong_direction(wire: WireClient, tree: Path) -> None:
    await fs_open(wire, "r", tree / "f")
    await fs_open(wire, "w", tree / "new", mode="replace")
    ebadf = error(-32603, "Bad file descriptor (os error 9)")
    assert await write_block(wire, "r", 0, b"x") == {"error": ebadf}
    assert await read_block(wire, "w", 0, 1) == {"error": ebadf}


async def test_offsets_at_the_limit(wire: WireClient, tree: Path) -> None:
    await fs_open(wire, "r", tree / "f")
    await fs_open(wire, "w", tree / "new", mode="replace")
    assert await read_block(wire, "r", 2**63 - 2, 1) == {"result": {"chunk": "", "eof": True}}
    einval = error(-32600, "Invalid argument (os error 22)")
    assert await read_block(wire, "r", 2**63 - 2, 2) == {"error": einval}
    too_far = error(-32600, "file write range exceeds the signed 64-bit file offset limit")
    assert await write_block(wire, "w", 2**63 - 2, b"ab") == {"error": too_far}
    assert await write_block(wire, "w", 2**64 - 1, b"ab") == {"error": too_far}


async def test_open_errors(wire: WireClient, tree: Path) -> None:
    enoent = error(-32004, "No such file or directory (os error 2)")
    assert await fs_open(wire, "m", tree / "missing") == {"error": enoent}
    assert await fs_open(wire, "m", tree / "missing" / "x", mode="replace") == {"error": enoent}
    not_a_file = error(-32600, f"path `{tree / 'dir'}` is not a file")
    assert await fs_open(wire, "d", tree / "dir") == {"error": not_a_file}
    is_a_directory = error(-32603, "Is a directory (os error 21)")
    assert await fs_open(wire, "d", tree / "dir", mode="replace") == {"error": is_a_directory}
    assert await fs_open(wire, "p", tree / "fifo") == {
        "error": error(-32600, f"path `{tree / 'fifo'}` is not a file")
    }
    assert await fs_open(wire, "p", tree / "fifo", mode="replace") == {
        "error": error(-32603, "No such device or address (os error 6)")
    }
    assert await fs_open(wire, "n", Path("/dev/null")) == {
        "error": error(-32600, "path `/dev/null` is not a file")
    }


@pytest.mark.parametrize(
    ("method", "params", "message"),
    [
        ("fs/open", {"path": "file:///x"}, "missing field `handleId`"),
        ("fs/open", {"handleId": "a", "path": "file:///x", "mode": "bogus"},
         "unknown variant `bogus`, expected `read` or `replace`"),
        ("fs/readBlock", {"handleId": "a", "offset": 0}, "missing field `len`"),
        ("fs/writeBlock", {"handleId": "a", "offset": 0, "chunk": "!!"},
         "Invalid symbol 33, offset 0."),
        ("fs/writeBlock", {"handleId": "a", "offset": 0, "chunk": "aGk"}, "Invalid padding"),
        ("fs/close", {}, "missing field `handleId`"),
        ("fs/watchMissing", {"watchId": 1}, "missing field `missing`"),
        ("fs/watchMissing", {"missing": []}, "missing field `watchId`"),
    ],
)  # fmt: skip
async def test_invalid_params(wire: WireClient, method: str, params: Any, message: str) -> None:
    assert await rpc(wire, method, params) == {"error": error(-32602, message)}


@pytest.mark.parametrize(
    "method", ["fs/open", "fs/readBlock", "fs/writeBlock", "fs/close", "fs/watchMissing"]
)
async def test_before_the_handshake(url: str, method: str) -> None:
    params = {
        "fs/open": {"handleId": "a", "path": "file:///x"},
        "fs/readBlock": {"handleId": "a", "offset": 0, "len": 1},
        "fs/writeBlock": {"handleId": "a", "offset": 0, "chunk": "aGk="},
        "fs/close": {"handleId": "a"},
        "fs/watchMissing": {"watchId": 1, "missing": []},
    }[method]
    before = error(-32600, "client must call initialize before using filesystem methods")
    async with open_wire(url) as raw:
        assert await rpc(raw, method, params) == {"error": before}


# -- fs/watchMissing ---------------------------------------------------------------------


async def watch(wire: WireClient, watch_id: int, *missing: Path, **extra: Any) -> Any:
    params = {"watchId": watch_id, "missing": [uri(path) for path in missing], **extra}
    return await rpc(wire, "fs/watchMissing", params)


async def notification(wire: WireClient) -> dict[str, Any]:
    with trio.fail_after(WAIT):
        message = await wire.next_notification("fs/missingChanged")
    return message


async def test_watch_missing_notifies_once(wire: WireClient, tree: Path) -> None:
    watching = {"result": {"watching": True}}
    assert await watch(wire, 7, tree / "a", tree / "b") == watching
    (tree / "a").write_bytes(b"")
    assert await notification(wire) == {"method": "fs/missingChanged", "params": {"watchId": 7}}
    (tree / "b").write_bytes(b"")  # the watch has ended
    assert await watch(wire, 8, tree / "c") == watching
    (tree / "c").mkdir()
    assert await notification(wire) == {"method": "fs/missingChanged", "params": {"watchId": 8}}


async def test_watch_missing_with_nothing_to_watch(wire: WireClient, tree: Path) -> None:
    not_watching = {"result": {"watching": False}}
    assert await watch(wire, 1) == not_watching
    assert await watch(wire, 2, tree / "f") == not_watching
    assert await watch(wire, 3, tree / "missing", tree / "f") == not_watching
    assert await watch(wire, 4, tree / "missing", present=uri(tree / "nope")) == not_watching
    assert await watch(wire, 0, tree / "missing") == not_watching
    assert await watch(wire, 2**64 - 1, tree / "missing") == {"result": {"watching": True}}
    assert await watch(wire, 2**64 - 1, tree / "other") == not_watching


async def test_watch_missing_present_removed(wire: WireClient, tree: Path) -> None:
    (tree / ".git").mkdir()
    present = uri(tree / ".git")
    assert await watch(wire, 5, tree / "skills", present=present) == {"result": {"watching": True}}
    (tree / ".git").rmdir()
    assert await notification(wire) == {"method": "fs/missingChanged", "params": {"watchId": 5}}


# -- followSymlinks ----------------------------------------------------------------------


async def test_follow_symlinks_false(wire: WireClient, tree: Path) -> None:
    def params(name: str, **extra: Any) -> dict[str, Any]:
        return {"path": uri(tree / name), "followSymlinks": False, **extra}

    eloop = error(-32603, "Symbolic link loop (os error 40)")
    enotdir = error(-32603, "Not a directory (os error 20)")
    symlink = error(-32600, "path contains a symbolic link")
    assert await rpc(wire, "fs/readFile", params("lnk")) == {"error": eloop}
    assert await rpc(wire, "fs/readFile", params("dangling")) == {"error": eloop}
    assert await rpc(wire, "fs/readFile", params("dlnk/in")) == {"error": enotdir}
    assert await rpc(wire, "fs/readFile", params("dir")) == {
        "error": error(-32600, "path is not a regular file")
    }
    assert await rpc(wire, "fs/readFile", params("f")) == {
        "result": {"dataBase64": b64(b"hello world")}
    }
    written = params("lnk", dataBase64=b64(b"x"))
    assert await rpc(wire, "fs/writeFile", written) == {"error": eloop}
    assert await rpc(wire, "fs/writeFile", params("dlnk/new", dataBase64="")) == {"error": enotdir}
    assert await rpc(wire, "fs/getMetadata", params("lnk")) == {"error": symlink}
    assert await rpc(wire, "fs/getMetadata", params("dangling")) == {"error": symlink}
    assert await rpc(wire, "fs/getMetadata", params("dlnk/in")) == {"error": enotdir}
    metadata = await rpc(wire, "fs/getMetadata", params("dir"))
    assert metadata["result"]["isDirectory"] is True
    assert await rpc(wire, "fs/createDirectory", params("dlnk/sub")) == {"error": enotdir}
    assert await rpc(wire, "fs/createDirectory", params("dlnk")) == {"error": enotdir}
    assert await rpc(wire, "fs/createDirectory", params("dlnk", recursive=False)) == {
        "error": error(-32603, "File exists (os error 17)")
    }
    assert await rpc(wire, "fs/createDirectory", params("a/b")) == {"result": {}}
    assert (tree / "a" / "b").is_dir()
    unsupported = error(-32603, "recursive no-follow removal is unsupported")
    assert await rpc(wire, "fs/remove", params("f")) == {"error": unsupported}
    assert await rpc(wire, "fs/remove", params("lnk", recursive=False)) == {"error": symlink}
    assert await rpc(wire, "fs/remove", params("dlnk/in", recursive=False)) == {"error": enotdir}
    assert await rpc(wire, "fs/remove", params("nope", recursive=False)) == {"result": {}}
    assert await rpc(wire, "fs/remove", params("f", recursive=False)) == {"result": {}}
    assert not (tree / "f").exists()
    assert (tree / "lnk").is_symlink()


async def test_follow_symlinks_true_is_the_default(wire: WireClient, tree: Path) -> None:
    for follow in ({}, {"followSymlinks": True}, {"followSymlinks": None}):
        reply = await rpc(wire, "fs/readFile", {"path": uri(tree / "dlnk" / "in"), **follow})
        assert reply == {"result": {"dataBase64": b64(b"x")}}


# -- fs/readFile of something other than a regular file ----------------------------------


@pytest.mark.parametrize("name", ["dir", "dlnk", "fifo"])
async def test_read_file_of_a_non_file(wire: WireClient, tree: Path, name: str) -> None:
    """0.171 answers ``-32600`` (0.130: ``Is a directory``, and a FIFO is read)."""
    reply = await rpc(wire, "fs/readFile", {"path": uri(tree / name)})
    assert reply == {"error": error(-32600, f"path `{tree / name}` is not a file")}
