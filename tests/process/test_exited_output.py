"""Output kept by closed processes is capped server-wide (``--exited-retention-bytes``):
past the cap, the output of the processes closed longest ago goes first, and reads of
it say ``truncated``; running processes and the newest closed ones keep theirs."""

from __future__ import annotations

import sys
from pathlib import Path

import trio

import execsrv

from .conftest import StartServer
from .support import CHILD_ENV, Collector, py

ROOT = Path(__file__).resolve().parents[2]

SIZE = 1000
CAP = 3 * SIZE


def _printer(letter: str, *, then_wait: bool = False) -> list[str]:
    """One write of SIZE copies of ``letter`` (one chunk), then exit or wait for stdin."""
    return py(
        f"""
        import os, sys
        os.write(1, b"{letter}" * {SIZE})
        {"sys.stdin.read()" if then_wait else ""}
        """
    )


async def test_closed_output_past_the_cap_is_evicted_oldest_first(
    start_server: StartServer,
) -> None:
    server = await start_server(exited_retention_bytes=CAP)
    assert server.url is not None
    with trio.fail_after(15):
        async with (
            execsrv.connect(server.url) as first,
            execsrv.connect(server.url) as second,
        ):
            running = await first.start_process(
                _printer("R", then_wait=True), env=CHILD_ENV, pipe_stdin=True
            )
            await Collector(running).until_output(b"R" * SIZE)
            # Five closed processes, in a known closing order, over two sessions.
            closed: list[execsrv.RemoteProcess] = []
            for index, letter in enumerate("ABCDE"):
                client = first if index % 2 == 0 else second
                proc = await client.start_process(_printer(letter), env=CHILD_ENV)
                await Collector(proc).finish()
                closed.append(proc)

            for proc, letter in zip(closed[:2], "AB", strict=True):
                gone = await proc.read(after_seq=0)
                assert gone.chunks == [], letter
                assert gone.truncated, letter
                assert gone.closed, letter
            for proc, letter in zip(closed[2:], "CDE", strict=True):
                kept = await proc.read(after_seq=0)
                assert [c.chunk for c in kept.chunks] == [letter.encode() * SIZE]
                assert not kept.truncated
            live = await running.read(after_seq=0)
            assert [c.chunk for c in live.chunks] == [b"R" * SIZE]
            assert await running.close_stdin() == "accepted"


MEASURE_HELD = """
import dataclasses, sys, tracemalloc
from functools import partial
import trio, execsrv
from tests.conftest import TEST_CONFIG
from tests.process.support import CHILD_ENV, Collector, py

CAP = 1 << 20

async def main():
    config = dataclasses.replace(TEST_CONFIG, exited_retention_bytes=CAP)
    async with trio.open_nursery() as nursery:
        server = await nursery.start(partial(execsrv.serve, "ws://127.0.0.1:0", config=config))
        tracemalloc.start()
        async with execsrv.connect(server.url) as client:
            flood = py(f"import sys; sys.stdout.buffer.write(bytes({CAP}))")
            procs = []
            for _ in range(8):
                proc = await client.start_process(flood, env=CHILD_ENV)
                await Collector(proc).finish()
                procs.append(proc)
            held = tracemalloc.take_snapshot().filter_traces(
                [tracemalloc.Filter(True, "*/trio/_unix_pipes.py")]
            )
            print(sum(stat.size for stat in held.statistics("filename")))
            print((await procs[0].read(after_seq=0)).truncated)
            print((await procs[-1].read(after_seq=0)).truncated)
        nursery.cancel_scope.cancel()

trio.run(main)
"""


async def test_evicted_closed_output_is_freed_at_once() -> None:
    """Output the cap evicts is not kept alive by the retention's bookkeeping: the
    bytes the server read from pipes and still holds are within the cap. Measured in
    a process of its own: tracemalloc counts every thread's allocations, and other
    tests' servers may be reading pipes meanwhile."""
    cap = 1 << 20
    with trio.fail_after(30):
        done = await trio.run_process(
            [sys.executable, "-c", MEASURE_HELD], capture_stdout=True, cwd=ROOT
        )
    held, first_truncated, last_truncated = done.stdout.decode().split()
    assert int(held) <= cap + (64 << 10)
    assert first_truncated == "True"
    assert last_truncated == "False"
