"""Retention: output evicted whole with an explicit ``truncated``; closed processes are
forgotten after ``exited_retention`` and their id can be used again (spec §6, §7)."""

from __future__ import annotations

import pytest
import trio

import execsrv

from .conftest import StartServer
from .support import CHILD_ENV, Collector, py

BLOCK = 300
BLOCKS = 10

# One block per stdin byte: each block is one read, so one chunk with its own seq.
STEPPED = f"""
import os
for i in range({BLOCKS}):
    os.write(1, bytes([65 + i]) * {BLOCK})
    os.read(0, 1)
"""


async def _stepped(client: execsrv.Client) -> Collector:
    """Run STEPPED to the end; chunk ``i`` has seq ``i`` and holds BLOCK copies of one letter."""
    proc = await client.start_process(py(STEPPED), env=CHILD_ENV, pipe_stdin=True)
    seen = Collector(proc)
    for index in range(BLOCKS):
        await seen.until(lambda c, n=index + 1: len(c.chunks()) == n)
        assert seen.chunks()[-1].data == bytes([65 + index]) * BLOCK
        assert await proc.write(b"n") == "accepted"
    await seen.finish()
    assert [c.seq for c in seen.chunks()] == list(range(1, BLOCKS + 1))
    return seen


async def test_small_retention_evicts_whole_chunks_and_says_truncated(
    start_server: StartServer,
) -> None:
    server = await start_server(retention_bytes=1000)
    with trio.fail_after(15):
        async with execsrv.connect(server.url) as client:
            seen = await _stepped(client)
            # Every chunk was still delivered as a notification while attached.
            assert bytes(seen.stdout) == b"".join(bytes([65 + i]) * BLOCK for i in range(BLOCKS))
            proc = seen.proc

            # 1000 bytes keep the last three 300-byte chunks (seqs 8-10), each whole.
            full = await proc.read(after_seq=0)
            assert [c.seq for c in full.chunks] == [8, 9, 10]
            assert [c.chunk for c in full.chunks] == [bytes([65 + i]) * BLOCK for i in (7, 8, 9)]
            assert full.truncated is True
            assert full.closed
            assert full.exited
            assert full.exit_code == 0

            for after_seq, seqs, truncated in [
                (5, [8, 9, 10], True),
                (6, [8, 9, 10], True),  # seq 7 was evicted: output after the cursor is lost
                (7, [8, 9, 10], False),  # nothing after the cursor was lost
                (8, [9, 10], False),
                (10, [], False),
            ]:
                response = await proc.read(after_seq=after_seq)
                assert [c.seq for c in response.chunks] == seqs, after_seq
                assert response.truncated is truncated, after_seq

            limited = await proc.read(after_seq=0, max_bytes=1)
            assert [c.seq for c in limited.chunks] == [8]
            assert limited.truncated is True
            assert limited.next_seq == 9


async def test_default_retention_reports_no_truncation(client: execsrv.Client) -> None:
    with trio.fail_after(15):
        seen = await _stepped(client)
        response = await seen.proc.read(after_seq=0)
        assert [c.seq for c in response.chunks] == list(range(1, BLOCKS + 1))
        assert response.truncated is False


async def _wait_forgotten(proc: execsrv.RemoteProcess) -> execsrv.RemoteError:
    """Poll ``process/read`` until the server has forgotten the process.

    The server tells nobody when retention runs out, so this waits on the clock.
    """
    while True:
        try:
            await proc.read()
        except execsrv.RemoteError as error:
            return error
        await trio.sleep(0.02)


RETENTION = 0.5


async def test_closed_process_is_forgotten_after_retention_and_its_id_reused(
    start_server: StartServer,
) -> None:
    server = await start_server(exited_retention=RETENTION * 2)
    with trio.fail_after(15):
        async with execsrv.connect(server.url) as client:
            began = trio.current_time()
            proc = await client.start_process(["printf", "first"], process_id="r", env=CHILD_ENV)
            seen = await Collector(proc).finish()
            exit_seq = seen.exited.seq if seen.exited else None

            kept = await proc.read(after_seq=0)
            assert [c.chunk for c in kept.chunks] == [b"first"]
            assert kept.closed
            assert kept.exit_seq == exit_seq
            with pytest.raises(execsrv.RemoteError) as busy:
                await client.start_process(["true"], process_id="r", env=CHILD_ENV)
            assert (busy.value.code, busy.value.message) == (-32600, "process r already exists")

            gone = await _wait_forgotten(proc)
            assert trio.current_time() - began >= RETENTION * 2
            assert (gone.code, gone.message) == (-32600, "unknown process id r")
            assert await proc.write(b"x") == "unknownProcess"
            assert await proc.terminate() is False
            assert await client.list_processes() == []

            again = await client.start_process(["printf", "second"], process_id="r", env=CHILD_ENV)
            second = await Collector(again).finish()
            # A fresh counter: seqs 1..3 (output, exited and closed; the exit may be
            # recorded before the output).
            assert [e.seq for e in second.events] == [1, 2, 3]
            assert second.output == b"second"
            (chunk,) = second.chunks()
            reread = await again.read(after_seq=0)
            assert [(c.seq, c.chunk) for c in reread.chunks] == [(chunk.seq, b"second")]


# The direct child exits at once; a grandchild keeps stdout open until it reads stdin.
LINGERING = """
import os
if os.fork() == 0:
    os.read(0, 1)
    os.write(1, b"late")
    os._exit(0)
os.write(1, b"early")
"""


async def test_retention_timer_starts_at_closed_not_at_exit(start_server: StartServer) -> None:
    server = await start_server(exited_retention=RETENTION)
    with trio.fail_after(15):
        async with execsrv.connect(server.url) as client:
            proc = await client.start_process(py(LINGERING), env=CHILD_ENV, pipe_stdin=True)
            seen = Collector(proc)
            await seen.until(lambda c: c.exited is not None and b"early" in c.output)
            assert seen.closed is None
            # Let twice the retention pass after the exit, timed by the server's own
            # long-poll: the process must still be there (not closed yet).
            idle = await proc.read(after_seq=seen.events[-1].seq, wait_ms=int(RETENTION * 2000))
            assert idle.chunks == []
            assert idle.exited
            assert not idle.closed
            assert await proc.write(b"g") == "accepted"
            await seen.finish()
            assert bytes(seen.stdout) == b"earlylate"
