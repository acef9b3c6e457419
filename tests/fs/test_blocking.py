"""FIFOs that never deliver must not take capacity other clients need (issue 8, point 4).

A read waiting on an idle FIFO (or a write onto a full one) holds no worker
thread: other clients' calls answer at once, a client that disconnects frees
what its blocked calls held, and shutdown does not wait for them. The server
runs in this process, so its descriptors on the FIFO are visible in
``/proc/self/fd`` next to the test's own.
"""

from __future__ import annotations

import fcntl
import os
import termios
from functools import partial
from pathlib import Path

import trio

import execsrv

from ..conftest import TEST_CONFIG
from .support import read_file_0130

WAIT = 30
BLOCKED_READS = 12
"""More than the server's worker threads (8)."""
QUICK = 5
"""Seconds a call that must not wait for the FIFO gets, on a loaded machine."""


def descriptors_on(path: Path) -> int:
    """Descriptors of this process (server and test) open on ``path``."""
    count = 0
    for name in os.listdir("/proc/self/fd"):
        try:
            count += os.readlink(f"/proc/self/fd/{name}") == str(path)
        except OSError:
            continue  # closed meanwhile
    return count


async def wait_for_descriptors(path: Path, *, at_least: int = 0, at_most: int = 1 << 30) -> None:
    """Poll until the number of descriptors on ``path`` is in range (the caller's deadline)."""
    while not at_least <= descriptors_on(path) <= at_most:  # noqa: ASYNC110 (kernel state)
        await trio.sleep(0.01)


async def test_reads_blocked_on_a_fifo_leave_room_for_other_clients(
    server: execsrv.ExecServer, tmp_path: Path
) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    silent_writer = os.open(fifo, os.O_RDWR | os.O_NONBLOCK)  # holds it open, never writes
    small = tmp_path / "small"
    small.write_bytes(b"small file")
    assert server.url is not None
    results: list[bytes] = []
    try:
        with trio.fail_after(WAIT):
            async with (
                execsrv.connect(server.url, client_name="blocked") as blocked,
                execsrv.connect(server.url, client_name="other") as other,
                trio.open_nursery() as nursery,
            ):

                async def read_fifo() -> None:
                    results.append(await read_file_0130(blocked, fifo))

                for _ in range(BLOCKED_READS):
                    nursery.start_soon(read_fifo)
                # at least as many reads waiting in the server as it has worker threads
                await wait_for_descriptors(fifo, at_least=1 + 8)
                with trio.fail_after(QUICK):
                    assert not (await other.fs.get_metadata(fifo)).is_file
                    assert await other.fs.read_file(small) == b"small file"
                    await other.fs.write_file(tmp_path / "written", b"data")
                    assert await blocked.fs.read_file(small) == b"small file"
                assert results == []
                os.close(silent_writer)  # end of file for every reader
                silent_writer = -1
    finally:
        if silent_writer >= 0:
            os.close(silent_writer)
    assert results == [b""] * BLOCKED_READS


async def test_a_disconnecting_client_releases_its_blocked_reads(
    server: execsrv.ExecServer, tmp_path: Path
) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    silent_writer = os.open(fifo, os.O_RDWR | os.O_NONBLOCK)
    small = tmp_path / "small"
    small.write_bytes(b"small file")
    assert server.url is not None
    try:
        with trio.fail_after(WAIT):
            async with (
                execsrv.connect(server.url, client_name="leaving") as leaving,
                trio.open_nursery() as nursery,
            ):
                for _ in range(BLOCKED_READS):
                    nursery.start_soon(read_file_0130, leaving, fifo)
                await wait_for_descriptors(fifo, at_least=1 + 8)
                nursery.cancel_scope.cancel()
            # the connection is gone: its reads close their descriptors
            with trio.fail_after(QUICK):
                await wait_for_descriptors(fifo, at_most=1)
            async with execsrv.connect(server.url, client_name="next") as other:
                with trio.fail_after(QUICK):
                    for _ in range(BLOCKED_READS):
                        assert await other.fs.read_file(small) == b"small file"
    finally:
        os.close(silent_writer)


async def test_shutdown_with_a_write_blocked_on_a_full_fifo(tmp_path: Path) -> None:
    """The FIFO's reader never reads: the write fills the pipe and waits, and
    cancelling the server ends it promptly. Should shutdown hang (the defect),
    the rescue closes the reader after a while (the write fails), so the test
    fails instead of hanging."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    idle_reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    pipe_size = fcntl.fcntl(idle_reader, fcntl.F_GETPIPE_SZ)
    stopped = trio.Event()
    rescued = False

    def buffered() -> int:
        return int.from_bytes(fcntl.ioctl(idle_reader, termios.FIONREAD, b"\0" * 4), "little")

    async def rescue() -> None:
        nonlocal rescued
        with trio.move_on_after(QUICK * 2):
            await stopped.wait()
            return
        rescued = True
        os.close(idle_reader)

    async def write(client: execsrv.Client) -> None:
        try:
            await client.fs.write_file(fifo, b"x" * (pipe_size * 4))
        except execsrv.ClientError:
            pass  # the connection ends with the server

    try:
        with trio.fail_after(WAIT):
            async with trio.open_nursery() as outer:
                outer.start_soon(rescue)
                async with trio.open_nursery() as serving:
                    server = await serving.start(partial(execsrv.serve, config=TEST_CONFIG))
                    assert server.url is not None
                    async with execsrv.connect(server.url, client_name="writer") as client:
                        serving.start_soon(write, client)
                        while buffered() < pipe_size:  # noqa: ASYNC110 (the write fills the pipe)
                            await trio.sleep(0.01)
                        serving.cancel_scope.cancel()
                stopped.set()
    finally:
        if not rescued:
            os.close(idle_reader)
    assert not rescued, "shutdown waited for the blocked write"
