"""``fs/watchMissing`` and ``fs/missingChanged`` (codex 0.171) through an in-process
execsrv: real inotify, real files, on the wire and through the client (issue 10).

Nothing sleeps: each test waits for the notification under ``fail_after``. Where a
test shows that a change did *not* notify, a later watch on the same connection
fires first: the server handles inotify events in order, so an earlier one that
should have notified would have been sent before it.
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
from execsrv.protocol.fs import MAX_MISSING_WATCHES

from ..conformance.support import error, rpc
from ..wire import WireClient, open_wire
from .support import uri

WAIT = 15


@pytest.fixture
async def wire(server: execsrv.ExecServer) -> AsyncIterator[WireClient]:
    assert server.url is not None
    async with open_wire(server.url) as client:
        await client.handshake()
        yield client


async def watch(wire: WireClient, watch_id: int, *missing: Path, **extra: Any) -> bool:
    params = {"watchId": watch_id, "missing": [uri(path) for path in missing], **extra}
    response = await rpc(wire, "fs/watchMissing", params)
    watching = response["result"]["watching"]
    assert isinstance(watching, bool)
    return watching


async def fired(wire: WireClient) -> int:
    with trio.fail_after(WAIT):
        message = await wire.next_notification("fs/missingChanged")
    watch_id = message["params"]["watchId"]
    assert message["params"] == {"watchId": watch_id}
    assert isinstance(watch_id, int)
    return watch_id


def inotify_descriptors() -> int:
    return sum(
        os.readlink(f"/proc/self/fd/{fd}") == "anon_inode:inotify"
        for fd in os.listdir("/proc/self/fd")
        if os.path.exists(f"/proc/self/fd/{fd}")
    )


async def test_a_file_appearing_notifies_once(wire: WireClient, tmp_path: Path) -> None:
    assert await watch(wire, 7, tmp_path / "a", tmp_path / "b")
    (tmp_path / "a").write_bytes(b"")
    assert await fired(wire) == 7
    (tmp_path / "b").mkdir()  # the watch has ended: nothing more
    assert await watch(wire, 8, tmp_path / "c")
    (tmp_path / "c").mkdir()
    assert await fired(wire) == 8
    assert wire.notifications == []


async def test_directories_appearing_on_the_way_rearm(wire: WireClient, tmp_path: Path) -> None:
    """execsrv notifies when the path itself exists (0.171 already on the first
    directory that appears on the way)."""
    target = tmp_path / "p" / "q" / "r"
    assert await watch(wire, 1, target)
    (tmp_path / "p" / "q").mkdir(parents=True)
    assert await watch(wire, 2, tmp_path / "p" / "q" / "sentinel")
    (tmp_path / "p" / "q" / "sentinel").write_bytes(b"")
    assert await fired(wire) == 2
    target.write_bytes(b"")
    assert await fired(wire) == 1


async def test_the_watched_directory_moving_away(wire: WireClient, tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    assert await watch(wire, 1, tmp_path / "d" / "x")
    (tmp_path / "d").rename(tmp_path / "gone")
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "x").write_bytes(b"")
    assert await fired(wire) == 1


async def test_a_dangling_symlink_and_a_rename_count(wire: WireClient, tmp_path: Path) -> None:
    assert await watch(wire, 1, tmp_path / "link")
    (tmp_path / "link").symlink_to("nowhere")
    assert await fired(wire) == 1
    assert await watch(wire, 2, tmp_path / "moved")
    (tmp_path / "tmp").write_bytes(b"")
    (tmp_path / "tmp").rename(tmp_path / "moved")
    assert await fired(wire) == 2


async def test_present_going_away_notifies(wire: WireClient, tmp_path: Path) -> None:
    (tmp_path / "repo" / ".git").mkdir(parents=True)
    present = uri(tmp_path / "repo" / ".git")
    assert await watch(wire, 1, tmp_path / "skills", present=present)
    (tmp_path / "repo" / ".git").rmdir()
    assert await fired(wire) == 1


async def test_nothing_to_watch(wire: WireClient, tmp_path: Path) -> None:
    (tmp_path / "there").write_bytes(b"")
    assert not await watch(wire, 1)
    assert not await watch(wire, 2, tmp_path / "there")
    assert not await watch(wire, 3, tmp_path / "missing", tmp_path / "there")
    assert not await watch(wire, 4, tmp_path / "missing", present=uri(tmp_path / "nope"))
    assert not await watch(wire, 0, tmp_path / "missing")  # 0.171 refuses id 0 too
    assert await watch(wire, 5, tmp_path / "missing")
    assert not await watch(wire, 5, tmp_path / "other")  # in use


async def test_plain_paths_are_accepted(wire: WireClient, tmp_path: Path) -> None:
    params = {"watchId": 1, "missing": [str(tmp_path / "x")], "present": str(tmp_path)}
    assert await rpc(wire, "fs/watchMissing", params) == {"result": {"watching": True}}
    (tmp_path / "x").write_bytes(b"")
    assert await fired(wire) == 1


async def test_watches_per_connection_are_bounded(wire: WireClient, tmp_path: Path) -> None:
    for watch_id in range(1, MAX_MISSING_WATCHES + 1):
        assert await watch(wire, watch_id, tmp_path / f"m{watch_id}")
    params = {"watchId": 9999, "missing": [uri(tmp_path / "more")]}
    refused = error(-32600, "at most 256 missing-path watches may be active per connection")
    assert await rpc(wire, "fs/watchMissing", params) == {"error": refused}
    (tmp_path / "m1").write_bytes(b"")
    assert await fired(wire) == 1  # a watch that fired frees its place
    assert await watch(wire, 9999, tmp_path / "more")


async def test_watches_end_with_their_connection(
    server: execsrv.ExecServer, tmp_path: Path
) -> None:
    before = inotify_descriptors()
    assert server.url is not None
    async with open_wire(server.url) as wire:
        await wire.handshake()
        assert await watch(wire, 1, tmp_path / "x")
        assert inotify_descriptors() == before + 1
    with trio.fail_after(WAIT):
        while inotify_descriptors() > before:
            await trio.testing.wait_all_tasks_blocked(0.01)  # the server (here) settles


async def test_the_client_waits_for_a_watch(client: execsrv.Client, tmp_path: Path) -> None:
    with trio.fail_after(WAIT):
        async with client.fs.watch_missing([tmp_path / "a" / "b"]) as watch:
            assert watch.watching
            (tmp_path / "a" / "b").mkdir(parents=True)
            await watch.wait()
        async with client.fs.watch_missing([tmp_path / "a"]) as already:
            assert not already.watching
            await already.wait()  # nothing to wait for
