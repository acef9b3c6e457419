"""stdin: ``process/write`` statuses, ``process/closeStdin`` (extension), writes after
terminate (DESIGN.md §1.1.4), and per-process ordering of pipelined control requests
(DESIGN.md §1.1.1, server/lanes.py)."""

from __future__ import annotations

import hashlib
import os

import pytest
import trio

import execsrv
from execsrv.protocol import process as p
from execsrv.protocol.methods import PROCESS_CLOSE_STDIN, PROCESS_WRITE

from ..wire import open_wire
from .support import CHILD_ENV, Collector, b64, exec_params, unb64


async def test_cat_echoes_writes_and_exits_on_close_stdin(client: execsrv.Client) -> None:
    with trio.fail_after(10):
        proc = await client.start_process(["cat"], env=CHILD_ENV, pipe_stdin=True)
        seen = Collector(proc)
        assert await proc.write(b"hello\n") == "accepted"
        await seen.until_output(b"hello\n")
        assert await proc.write(b"") == "accepted"  # an empty chunk is allowed
        assert await proc.write(b"\x00\xff bytes\n") == "accepted"
        assert await proc.close_stdin() == "accepted"
        await seen.finish()
        assert bytes(seen.stdout) == b"hello\n\x00\xff bytes\n"
        assert seen.exited is not None
        assert (seen.exited.exit_code, seen.exited.signal) == (0, None)
        # EOF was given: stdin is closed for good, running or not.
        assert await proc.write(b"more") == "stdinClosed"
        assert await proc.close_stdin() == "stdinClosed"


async def test_close_stdin_twice_and_write_after_close(client: execsrv.Client) -> None:
    with trio.fail_after(10):
        # The child outlives its stdin: it holds on until terminated.
        proc = await client.start_process(
            ["sh", "-c", "cat; echo eof; exec sleep 30"], env=CHILD_ENV, pipe_stdin=True
        )
        seen = Collector(proc)
        assert await proc.close_stdin() == "accepted"
        await seen.until_output(b"eof\n")
        assert await proc.close_stdin() == "stdinClosed"
        assert await proc.write(b"late") == "stdinClosed"
        assert await proc.terminate() is True
        await seen.finish()


async def test_write_statuses(client: execsrv.Client) -> None:
    with trio.fail_after(10):
        write = p.WriteParams(process_id="never-started", chunk=b"x")
        assert (await client.call(PROCESS_WRITE, write)).status == "unknownProcess"
        close = p.CloseStdinParams(process_id="never-started")
        assert (await client.call(PROCESS_CLOSE_STDIN, close)).status == "unknownProcess"

        # Without pipeStdin, stdin is /dev/null: stdinClosed while running and after.
        no_stdin = await client.start_process(
            ["sh", "-c", "read line; echo got=$?; exec sleep 30"], env=CHILD_ENV
        )
        seen = Collector(no_stdin)
        await seen.until_output(b"got=1\n")  # read hit EOF at once
        assert await no_stdin.write(b"x\n") == "stdinClosed"
        assert await no_stdin.close_stdin() == "stdinClosed"
        await no_stdin.terminate()
        await seen.finish()
        assert await no_stdin.write(b"x\n") == "stdinClosed"

        # A PTY process: accepted while running, and (the reference's quirk) after it
        # exited by itself.
        tty = await client.start_process(["cat"], env=CHILD_ENV, tty=True)
        tty_seen = Collector(tty)
        assert await tty.write(b"typed\n") == "accepted"
        await tty_seen.until(lambda c: c.output.count(b"typed") == 2)  # echo, then cat
        assert await tty.close_stdin() == "accepted"  # ^D at the start of a line: EOF
        await tty_seen.finish()
        assert tty_seen.exit_code == 0
        assert await tty.write(b"discarded") == "accepted"


async def test_write_after_terminate_answers_a_status(client: execsrv.Client) -> None:
    """DESIGN.md §1.1.4: never -32603, whether the write races the kill or comes later."""
    with trio.fail_after(10):
        proc = await client.start_process(["cat"], env=CHILD_ENV, pipe_stdin=True)
        seen = Collector(proc)
        assert await proc.terminate() is True
        racing = await proc.write(b"x")  # the kill is issued; the exit may not be seen yet
        assert racing in ("accepted", "stdinClosed")
        await seen.finish()
        assert seen.exited is not None
        assert (seen.exited.exit_code, seen.exited.signal) == (128 + 9, "SIGKILL")
        assert await proc.write(b"x") == "stdinClosed"
        assert await proc.close_stdin() == "stdinClosed"
        assert await proc.terminate() is False


async def test_large_stdin_round_trip_through_cat(client: execsrv.Client) -> None:
    data = os.urandom(6 << 20)
    with trio.fail_after(20):
        proc = await client.start_process(["cat"], env=CHILD_ENV, pipe_stdin=True)
        seen = Collector(proc)

        async def feed() -> None:
            view = memoryview(data)
            for offset in range(0, len(data), 300_000):
                assert await proc.write(bytes(view[offset : offset + 300_000])) == "accepted"
            assert await proc.close_stdin() == "accepted"

        async with trio.open_nursery() as nursery:
            nursery.start_soon(feed)
            await seen.finish()
    assert hashlib.sha256(seen.stdout).digest() == hashlib.sha256(data).digest()
    assert seen.exit_code == 0


@pytest.mark.parametrize("tty", [False, True], ids=["pipe", "pty"])
async def test_blocked_write_does_not_hold_up_terminate(
    server: execsrv.ExecServer, tty: bool
) -> None:
    """A child that never reads: the write's answer waits for room, the terminate
    behind it in the process's lane does not (lanes wait for *effect*, not answers)."""
    assert server.url is not None
    big = os.urandom(3 << 20)  # beyond the stdin queue (1 MiB) plus the pipe or PTY buffer
    # Raw mode on the PTY: no echo, and no ^C in the random bytes turning into SIGINT.
    script = ("stty raw -echo && " if tty else "") + "echo ready && exec sleep 60"
    async with open_wire(server.url) as wire:
        await wire.handshake()
        with trio.fail_after(10):
            params = {**exec_params("p", ["sh", "-c", script]), "pipeStdin": not tty, "tty": tty}
            assert "result" in await wire.request("process/start", params)
            await wire.next_notification("process/output")  # ready: the terminal is raw
            write = {"processId": "p", "chunk": b64(big)}
            await wire.send({"id": 10, "method": "process/write", "params": write})
            await wire.send({"id": 11, "method": "process/terminate", "params": {"processId": "p"}})
            with trio.fail_after(3):
                assert (await wire.response(11))["result"] == {"running": True}
            assert 10 not in wire.responses  # the write was still waiting for room
            # The stdin queue is dropped with the process: the write answers too.
            written = await wire.response(10)
            assert written["result"]["status"] in ("accepted", "stdinClosed")
            exited = await wire.next_notification("process/exited")
            assert exited["params"]["exitCode"] == (1 if tty else -1)
            assert exited["params"]["signal"] == "SIGKILL"
            await wire.next_notification("process/closed")


async def test_pipelined_start_writes_and_close_stdin_take_effect_in_order(
    server: execsrv.ExecServer,
) -> None:
    """Sent back to back without awaiting replies: start, 50 writes, closeStdin."""
    assert server.url is not None
    pieces = [f"{index:02d}|".encode() for index in range(50)]
    async with open_wire(server.url) as wire:
        await wire.handshake()
        with trio.fail_after(10):
            params = {**exec_params("p", ["cat"]), "pipeStdin": True}
            await wire.send({"id": 1, "method": "process/start", "params": params})
            for index, piece in enumerate(pieces):
                write = {"processId": "p", "chunk": b64(piece)}
                await wire.send({"id": 100 + index, "method": "process/write", "params": write})
            await wire.send({"id": 2, "method": "process/closeStdin", "params": {"processId": "p"}})
            assert (await wire.response(1))["result"] == {"processId": "p"}
            for index in range(len(pieces)):
                assert (await wire.response(100 + index))["result"] == {"status": "accepted"}
            assert (await wire.response(2))["result"] == {"status": "accepted"}
            output = bytearray()
            while True:
                message = await wire.next_notification()
                if message["method"] == "process/output":
                    output += unb64(message["params"]["chunk"])
                elif message["method"] == "process/exited":
                    assert message["params"]["exitCode"] == 0
                elif message["method"] == "process/closed":
                    break
            assert bytes(output) == b"".join(pieces)


async def test_pipelined_start_then_terminate_kills_the_new_process(
    server: execsrv.ExecServer,
) -> None:
    """A terminate right behind its start sees the process (not an unknown id)."""
    assert server.url is not None
    async with open_wire(server.url) as wire:
        await wire.handshake()
        with trio.fail_after(10):
            await wire.send(
                {"id": 1, "method": "process/start", "params": exec_params("p", ["sleep", "60"])}
            )
            await wire.send({"id": 2, "method": "process/terminate", "params": {"processId": "p"}})
            assert (await wire.response(1))["result"] == {"processId": "p"}
            assert (await wire.response(2))["result"] == {"running": True}
            exited = await wire.next_notification("process/exited")
            assert exited["params"]["exitCode"] == -1
