"""Output nobody can receive is not read: a detached flooding child blocks on its pipe
or PTY instead of costing the server a core, and the resume catches up exactly.

The server runs in the test's trio run, so "the server stopped reading" is observed
deterministically: every task of the run (its output pumps included) is blocked while
the child, still alive, sits in a blocking write of output nobody has taken.
"""

from __future__ import annotations

import os
import signal

import pytest
import trio
import trio.testing

import execsrv
from execsrv.process import ManagedProcess

from ..wire import open_wire
from .conftest import StartServer
from .support import CHILD_ENV, Collector, proc_state, py, unb64

RETENTION = 64 << 10
BLOCK = 16 << 10
TOTAL = 4 << 20
"""Well above what retention plus a pipe (1 MiB) or a PTY buffer can hold."""

# Says ready, waits for SIGUSR1 (sent once the session is detached), then floods.
FLOOD = f"""
import os, signal, sys, tty
if sys.argv[1] == "pty":
    tty.setraw(1)  # no output processing: the bytes arrive exactly
signal.pthread_sigmask(signal.SIG_BLOCK, {{signal.SIGUSR1}})
os.write(1, b"ready")
signal.sigwait({{signal.SIGUSR1}})
for index in range({TOTAL // BLOCK}):
    block = index.to_bytes(4, "big") * {BLOCK // 4}
    view = memoryview(block)
    while view:
        view = view[os.write(1, view):]
"""
EXPECTED = b"".join(index.to_bytes(4, "big") * (BLOCK // 4) for index in range(TOTAL // BLOCK))


def _blocked_writing(pid: int, *, tty: bool) -> bool:
    """The child sleeps in a write to its (full) pipe or terminal."""
    try:
        with open(f"/proc/{pid}/wchan") as wchan_file:
            wchan = wchan_file.read()
    except FileNotFoundError:
        return False
    waiting = ("wait_woken", "tty_write") if tty else ("pipe_write", "pipe_wait")
    return proc_state(pid) == "S" and any(name in wchan for name in waiting)


def _held_bytes(managed: ManagedProcess) -> int:
    """Output retained, all of it from seq 1 (``ready``) on: nothing was evicted."""
    held = managed.snapshot(after_seq=0, max_bytes=None)
    assert not held.truncated, "output nobody received was evicted"
    return sum(len(chunk.chunk) for chunk in held.chunks)


def _managed(server: execsrv.ExecServer, session_id: str, process_id: str) -> ManagedProcess:
    entry = server.registry.lookup(session_id)
    assert entry is not None
    managed = entry.processes[process_id]
    assert isinstance(managed, ManagedProcess)
    return managed


@pytest.mark.parametrize("tty", [False, True], ids=["pipe", "pty"])
async def test_detached_flood_blocks_the_child_and_the_resume_reads_it_all(
    start_server: StartServer, tty: bool
) -> None:
    server = await start_server(retention_bytes=RETENTION, session_ttl=60.0)
    assert server.url is not None
    with trio.fail_after(20):
        async with execsrv.connect(server.url) as client:
            argv = [*py(FLOOD), "pty" if tty else "pipe"]
            proc = await client.start_process(argv, env=CHILD_ENV, tty=tty)
            seen = Collector(proc)
            await seen.until_output(b"ready")
            session_id = client.session_id
        managed = _managed(server, session_id, proc.process_id)
        session = server.registry.lookup(session_id)
        assert session is not None
        await session.wait_detached()

        os.kill(managed.pid, signal.SIGUSR1)
        # Paused: retention is full of output nobody received, and the child sits in
        # a write to its full pipe or terminal.
        while not (_held_bytes(managed) == RETENTION and _blocked_writing(managed.pid, tty=tty)):
            assert managed.running, "the child wrote everything while nobody could receive it"
            await trio.sleep(0.01)
        # Nothing in the server runs: its pumps wait for a reader, not for data.
        await trio.testing.wait_all_tasks_blocked(cushion=0.05)
        assert _blocked_writing(managed.pid, tty=tty)
        assert managed.running
        assert _held_bytes(managed) == RETENTION

        # Resume: the backlog is read with a cursor; what comes after it arrives as
        # notifications again (and may be evicted from retention once delivered).
        async with open_wire(server.url) as wire:
            resume = {"clientName": "resumer", "resumeSessionId": session_id}
            assert "result" in await wire.request("initialize", resume)
            await wire.notify("initialized", {})
            received: dict[int, bytes] = {}
            after, closed = 1, None
            while closed is None:
                read = {"processId": proc.process_id, "afterSeq": after, "waitMs": 5000}
                result = (await wire.request("process/read", read))["result"]
                if after == 1:
                    assert not result["truncated"], "the backlog must be read whole"
                for chunk in result["chunks"]:
                    received[chunk["seq"]] = unb64(chunk["chunk"])
                for message in wire.notifications:
                    if message["method"] == "process/output":
                        received[message["params"]["seq"]] = unb64(message["params"]["chunk"])
                wire.notifications.clear()
                after = result["nextSeq"] - 1
                if result["closed"]:
                    closed = result
    assert closed is not None
    output_seqs = sorted(received)
    events = {closed["exitSeq"], closed["closedSeq"]}
    assert output_seqs == [s for s in range(2, closed["closedSeq"]) if s not in events]
    output = b"".join(received[seq] for seq in output_seqs)
    assert len(output) == TOTAL
    assert output == EXPECTED
    assert closed["exitCode"] == 0


async def test_attached_output_is_still_read_and_evicted_with_a_gap(
    start_server: StartServer,
) -> None:
    """While attached nothing waits for reads: output past retention reaches the client
    as notifications and a read from the start says ``truncated``."""
    server = await start_server(retention_bytes=RETENTION)
    assert server.url is not None
    with trio.fail_after(20):
        async with execsrv.connect(server.url) as client:
            proc = await client.start_process([*py(FLOOD), "pipe"], env=CHILD_ENV)
            seen = Collector(proc)
            await seen.until_output(b"ready")
            managed = _managed(server, client.session_id, proc.process_id)
            os.kill(managed.pid, signal.SIGUSR1)
            await seen.finish()
            assert bytes(seen.stdout) == b"ready" + EXPECTED
            response = await proc.read(after_seq=0)
            assert response.truncated
