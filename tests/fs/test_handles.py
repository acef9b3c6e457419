"""File handles (codex 0.171: ``fs/open``, ``fs/readBlock``, ``fs/writeBlock``, ``fs/close``)
through an in-process execsrv, on the wire and through the client (issue 10).

The server runs in this process, so ``/proc/self/fd`` shows its descriptors: a
handle's file must be open exactly while the handle is. Wire shapes shared with
codex 0.171 are in ``tests/conformance/test_fs_0171.py``.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.testing

import execsrv
from execsrv import FileNotFound, RemoteError

from ..conformance.support import b64, error, rpc, unb64
from ..wire import WireClient, open_wire
from .support import uri

WAIT = 15


def open_descriptors(path: Path) -> int:
    """How many of this process's descriptors are open on ``path``."""
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}") == str(path):
                count += 1
        except OSError:
            pass
    return count


@pytest.fixture
async def wire(server: execsrv.ExecServer) -> AsyncIterator[WireClient]:
    assert server.url is not None
    async with open_wire(server.url) as client:
        await client.handshake()
        yield client


async def fs_open(wire: WireClient, handle_id: str, path: Path, **extra: Any) -> dict[str, Any]:
    return await rpc(wire, "fs/open", {"handleId": handle_id, "path": uri(path), **extra})


async def test_write_then_read_positionally(wire: WireClient, tmp_path: Path) -> None:
    target = tmp_path / "f"
    assert await fs_open(wire, "w", target, mode="replace") == {"result": {"handleId": "w"}}
    write = {"handleId": "w", "offset": 4, "chunk": b64(b"tail")}
    assert await rpc(wire, "fs/writeBlock", write) == {"result": {}}
    assert target.read_bytes() == b"\0\0\0\0tail"  # written through: no commit step
    await rpc(wire, "fs/writeBlock", {"handleId": "w", "offset": 0, "chunk": b64(b"he")})
    assert await rpc(wire, "fs/close", {"handleId": "w"}) == {"result": {}}
    assert target.read_bytes() == b"he\0\0tail"

    assert await fs_open(wire, "r", target) == {"result": {"handleId": "r"}}
    first = await rpc(wire, "fs/readBlock", {"handleId": "r", "offset": 0, "len": 8})
    assert first == {"result": {"chunk": b64(b"he\0\0tail"), "eof": False}}
    rest = await rpc(wire, "fs/readBlock", {"handleId": "r", "offset": 6, "len": 8})
    assert rest == {"result": {"chunk": b64(b"il"), "eof": True}}


async def test_replace_truncates_at_open(wire: WireClient, tmp_path: Path) -> None:
    target = tmp_path / "f"
    target.write_bytes(b"old contents")
    await fs_open(wire, "w", target, mode="replace")
    assert target.read_bytes() == b""


async def test_the_wrong_direction_is_ebadf_and_keeps_the_handle(
    wire: WireClient, tmp_path: Path
) -> None:
    """0.171 drops a handle whose read failed; execsrv keeps it (the client closes it)."""
    target = tmp_path / "f"
    target.write_bytes(b"abc")
    await fs_open(wire, "r", target)
    await fs_open(wire, "w", tmp_path / "g", mode="replace")
    ebadf = error(-32603, "Bad file descriptor (os error 9)")
    write = {"handleId": "r", "offset": 0, "chunk": b64(b"x")}
    assert await rpc(wire, "fs/writeBlock", write) == {"error": ebadf}
    read = {"handleId": "w", "offset": 0, "len": 1}
    assert await rpc(wire, "fs/readBlock", read) == {"error": ebadf}
    assert "result" in await rpc(wire, "fs/writeBlock", {**write, "handleId": "w"})
    assert "result" in await rpc(wire, "fs/readBlock", {**read, "handleId": "r"})


async def test_at_most_128_handles_per_connection(
    server: execsrv.ExecServer, wire: WireClient, tmp_path: Path
) -> None:
    target = tmp_path / "f"
    target.write_bytes(b"x")
    for index in range(128):
        assert "result" in await fs_open(wire, f"h{index}", target)
    assert open_descriptors(target) == 128
    refused = error(-32600, "at most 128 file handles may be open per connection")
    assert await fs_open(wire, "one-more", target) == {"error": refused}
    assert server.url is not None
    async with open_wire(server.url) as other:  # the limit is per connection
        await other.handshake()
        assert "result" in await fs_open(other, "h0", target)
    await rpc(wire, "fs/close", {"handleId": "h0"})
    assert "result" in await fs_open(wire, "one-more", target)


async def test_handles_end_with_their_connection(
    server: execsrv.ExecServer, tmp_path: Path
) -> None:
    """Per connection, as 0.171: a resumed session does not see them, and every
    descriptor is closed once the connection is gone."""
    target = tmp_path / "f"
    target.write_bytes(b"x")
    assert server.url is not None
    async with open_wire(server.url) as first:
        session_id = await first.handshake()
        await fs_open(first, "r", target)
        await fs_open(first, "w", tmp_path / "g", mode="replace")
        assert open_descriptors(target) == 1
    with trio.fail_after(WAIT):
        while open_descriptors(target) or open_descriptors(tmp_path / "g"):
            await trio.testing.wait_all_tasks_blocked(0.01)  # the server (here) settles
    async with open_wire(server.url) as second:
        resumed = await second.request(
            "initialize", {"clientName": "t", "resumeSessionId": session_id}
        )
        assert "result" in resumed
        await second.notify("initialized", {})
        unknown = error(-32004, "unknown file handle `r`")
        read = {"handleId": "r", "offset": 0, "len": 1}
        assert await rpc(second, "fs/readBlock", read) == {"error": unknown}


async def test_fifos_never_block(wire: WireClient, tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    assert await fs_open(wire, "r", fifo) == {
        "error": error(-32600, f"path `{fifo}` is not a file")
    }
    assert await fs_open(wire, "w", fifo, mode="replace") == {
        "error": error(-32603, "No such device or address (os error 6)")
    }
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        assert await fs_open(wire, "w", fifo, mode="replace") == {
            "error": error(-32600, f"path `{fifo}` is not a file")
        }
    finally:
        os.close(reader)
    assert open_descriptors(fifo) == 0


async def test_plain_paths_are_accepted(wire: WireClient, tmp_path: Path) -> None:
    """Every path takes both forms (issue 10, point 1)."""
    (tmp_path / "f").write_bytes(b"x")
    params = {"handleId": "p", "path": str(tmp_path / "f")}
    assert await rpc(wire, "fs/open", params) == {"result": {"handleId": "p"}}


async def test_offsets_beyond_the_signed_64_bit_range(wire: WireClient, tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"x")
    await fs_open(wire, "r", tmp_path / "f")
    await fs_open(wire, "w", tmp_path / "g", mode="replace")
    einval = error(-32600, "Invalid argument (os error 22)")
    for offset in (2**63, 2**64 - 1):
        read = {"handleId": "r", "offset": offset, "len": 1}
        assert await rpc(wire, "fs/readBlock", read) == {"error": einval}
    too_far = error(-32600, "file write range exceeds the signed 64-bit file offset limit")
    write = {"handleId": "w", "offset": 2**63 - 2, "chunk": b64(b"ab")}
    assert await rpc(wire, "fs/writeBlock", write) == {"error": too_far}


async def test_closing_during_a_read_keeps_the_descriptor_until_it_ends(
    wire: WireClient, tmp_path: Path
) -> None:
    """Pipelined: the read already using the handle finishes; later ones find it gone."""
    target = tmp_path / "f"
    target.write_bytes(bytes(range(256)) * 4096)
    await fs_open(wire, "r", target)
    read = {"handleId": "r", "offset": 0, "len": 1 << 20}
    with trio.fail_after(WAIT):
        await wire.send({"id": "read", "method": "fs/readBlock", "params": read})
        await wire.send({"id": "close", "method": "fs/close", "params": {"handleId": "r"}})
        closed = await wire.response("close")
        replied = await wire.response("read")
    assert closed["result"] == {}
    if "result" in replied:
        assert unb64(replied["result"]["chunk"]) == target.read_bytes()[: 1 << 20]
    else:
        assert replied["error"] == error(-32004, "unknown file handle `r`")
    assert open_descriptors(target) == 0


async def test_the_client_opens_and_closes(client: execsrv.Client, tmp_path: Path) -> None:
    target = tmp_path / "f"
    with trio.fail_after(WAIT):
        async with client.fs.open(target, mode="replace") as handle:
            await handle.write_block(3, b"abc")
            assert open_descriptors(target) == 1
        assert open_descriptors(target) == 0
        async with client.fs.open(target) as handle:
            assert await handle.read_block(0, 100) == (b"\0\0\0abc", True)
            with pytest.raises(RemoteError, match=r"Bad file descriptor"):
                await handle.write_block(0, b"x")
        with pytest.raises(FileNotFound):
            async with client.fs.open(tmp_path / "missing"):
                pass


async def test_the_client_closes_a_cancelled_handle(client: execsrv.Client, tmp_path: Path) -> None:
    target = tmp_path / "f"
    target.write_bytes(b"x")
    with trio.fail_after(WAIT):
        with trio.CancelScope() as scope:
            async with client.fs.open(target):
                assert open_descriptors(target) == 1
                scope.cancel()
                await trio.sleep_forever()
        assert open_descriptors(target) == 0
