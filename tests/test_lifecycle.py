"""The server's lifecycle (DESIGN.md §2): listeners, and shutdown in two phases.

Phase one closes the listeners; phase two gives requests in flight and children
``shutdown_grace`` (children get SIGTERM), then cancels and SIGKILLs the rest.
Real servers, real sockets, real children; synchronised by replies, pidfds and
the children's own output, never by sleeping.
"""

from __future__ import annotations

import os
import signal
from dataclasses import replace
from typing import Any

import pytest
import trio

import execsrv
from execsrv.process import ManagedProcess

from .conftest import TEST_CONFIG
from .process.support import exec_params, is_dead, pidfd_of, py, unb64, wait_dead
from .servers import open_execsrv
from .wire import WireClient, WireClosed, open_wire

STUBBORN = """
import os, signal, sys
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
os.write(1, b"%d ready\\n" % os.getpid())
signal.sigwaitinfo({signal.SIGTERM})
os.write(1, b"got TERM\\n")
while True:
    signal.pause()
"""
"""Prints its pid and ``ready``, then ``got TERM`` on SIGTERM, and never exits."""


async def _output_until(wire: WireClient, process_id: str, needle: bytes) -> tuple[bytes, int]:
    """Long-poll ``process/read`` until ``needle`` is in the output; the output and
    the seq read up to."""
    output, after = b"", 0
    while needle not in output:
        reply = await wire.request(
            "process/read", {"processId": process_id, "afterSeq": after, "waitMs": 10_000}
        )
        result = reply["result"]
        output += b"".join(unb64(chunk["chunk"]) for chunk in result["chunks"])
        after = result["nextSeq"] - 1
    return output, after


async def _managed_output_until(process: ManagedProcess, needle: bytes) -> None:
    output, after = b"", 0
    while needle not in output:
        result = await process.read(after, None, 10_000)
        output += b"".join(chunk.chunk for chunk in result.chunks)
        after = result.next_seq - 1


async def _in_flight_read(
    wire: WireClient, process_id: str, request_id: int, after_seq: int = 0
) -> None:
    """Send a long-poll read and return once the server has it in flight: the reader
    dispatches in arrival order, so a later request's answer proves it."""
    read = {"processId": process_id, "afterSeq": after_seq, "waitMs": 60_000}
    await wire.send({"id": request_id, "method": "process/read", "params": read})
    assert "result" in await wire.request("process/list", {})


def _managed(server: execsrv.ExecServer, process_id: str) -> ManagedProcess:
    [session] = server.registry.sessions()
    entry = session.processes[process_id]
    assert isinstance(entry, ManagedProcess)
    return entry


async def _echo(client: execsrv.Client, text: str) -> bytes:
    proc = await client.start_process(["echo", text], env={"PATH": "/usr/bin:/bin"})
    result = await proc.communicate()
    return bytes(result.stdout)


async def test_two_listeners_on_one_server_both_serve_clients() -> None:
    with trio.fail_after(20):
        async with execsrv.open_server(TEST_CONFIG) as server, trio.open_nursery() as listening:
            await listening.start(server.serve_websocket, "127.0.0.1", 0)
            first = server.url
            await listening.start(server.serve_websocket, "127.0.0.1", 0)
            second = server.url
            assert first is not None
            assert second is not None
            assert first != second
            async with execsrv.connect(first) as one, execsrv.connect(second) as two:
                assert await _echo(one, "one") == b"one\n"
                assert await _echo(two, "two") == b"two\n"
            server.stop_accepting()  # both calls return: the nursery ends


async def test_a_new_connection_is_refused_once_accepting_has_stopped() -> None:
    with trio.fail_after(20):
        async with execsrv.open_server(TEST_CONFIG) as server, trio.open_nursery() as nursery:
            stopped = trio.Event()

            async def listen(*, task_status: trio.TaskStatus[execsrv.ExecServer]) -> None:
                await server.serve_websocket("127.0.0.1", 0, task_status=task_status)
                stopped.set()

            await nursery.start(listen)
            assert server.url is not None
            async with execsrv.connect(server.url) as client:
                server.stop_accepting()
                await stopped.wait()  # serve_websocket returned: its socket is closed
                with trio.socket.socket() as sock, pytest.raises(ConnectionRefusedError):
                    await sock.connect(("127.0.0.1", server.port))
                # the connection accepted before goes on
                assert await _echo(client, "still here") == b"still here\n"
            with pytest.raises(RuntimeError, match="stopped accepting"):
                await server.serve_websocket("127.0.0.1", 0)


async def test_shutdown_answers_a_long_poll_the_child_exit_ends_within_the_grace() -> None:
    """The read in flight is answered (the child exits on SIGTERM), the exit
    notification queued before it is flushed, then the connection closes; with
    every child gone the shutdown ends long before its grace."""
    grace = 60.0
    config = replace(TEST_CONFIG, shutdown_grace=grace)
    closed: tuple[int | None, str | None] = (None, None)
    replies: list[dict[str, Any]] = []
    with trio.fail_after(20):
        async with execsrv.open_server(config) as server, trio.open_nursery() as listening:
            await listening.start(server.serve_websocket, "127.0.0.1", 0)
            assert server.url is not None
            async with open_wire(server.url) as wire:
                await wire.handshake()
                started = await wire.request("process/start", exec_params("p", ["sleep", "60"]))
                assert "result" in started
                await _in_flight_read(wire, "p", request_id=100)
                began = trio.current_time()
                server.shutdown()
                replies.append(await wire.response(100))
                exited = await wire.next_notification("process/exited")
                closed = await wire.wait_closed()
        ended = trio.current_time() - began
    [reply] = replies
    assert reply["result"]["exited"] is True
    assert exited["params"]["processId"] == "p"
    assert closed[0] == 1000
    assert ended < grace / 2


async def test_shutdown_reaps_a_child_that_exits_on_term_and_kills_one_that_ignores_it() -> None:
    grace = 2.0
    config = replace(TEST_CONFIG, shutdown_grace=grace)
    with trio.fail_after(30):
        async with execsrv.open_server(config) as server:
            async with trio.open_nursery() as listening:
                await listening.start(server.serve_websocket, "127.0.0.1", 0)
                assert server.url is not None
                async with open_wire(server.url) as wire:
                    await wire.handshake()
                    children = {"stubborn": py(STUBBORN), "polite": ["sleep", "60"]}
                    for process_id, argv in children.items():
                        reply = await wire.request("process/start", exec_params(process_id, argv))
                        assert "result" in reply
                    await _output_until(wire, "stubborn", b"ready\n")
                stubborn, polite = _managed(server, "stubborn"), _managed(server, "polite")
                began = trio.current_time()
                server.shutdown()
            await polite.wait_exited()  # reaped on SIGTERM ...
            await _managed_output_until(stubborn, b"got TERM\n")
            assert not is_dead(stubborn.pid)  # ... while the stubborn one waits out the grace
        ended = trio.current_time() - began
    with pytest.raises(ProcessLookupError):  # SIGKILLed and reaped before open_server returned
        os.kill(stubborn.pid, 0)
    assert polite.exit_signal == "SIGTERM"
    assert grace <= ended < grace + 3


async def test_leaving_open_servers_block_shuts_down_and_reaps_every_child() -> None:
    """Leaving the block is a shutdown too: the child exits on SIGTERM, so
    open_server returns long before the grace, with the child reaped."""
    config = replace(TEST_CONFIG, shutdown_grace=60.0)
    with trio.fail_after(20):
        async with execsrv.open_server(config) as server, trio.open_nursery() as listening:
            await listening.start(server.serve_websocket, "127.0.0.1", 0)
            assert server.url is not None
            async with execsrv.connect(server.url) as client:
                proc = await client.start_process(["sleep", "60"], env={"PATH": "/bin"})
                pid = _managed(server, proc.process_id).pid
            listening.cancel_scope.cancel()  # leaving the block shuts down too
    with pytest.raises(ProcessLookupError):  # reaped, not merely dead
        os.kill(pid, 0)


async def test_the_cli_drains_on_the_first_signal_and_stops_at_once_on_the_second() -> None:
    """``execsrv serve``: SIGTERM answers the long-poll in flight with the output the
    child's SIGTERM handler wrote and closes the connection, but waits for the child
    (it ignores SIGTERM); a second SIGTERM ends the server at once and kills it."""
    async with open_execsrv("--shutdown-grace", "60", "--kill-grace", "0.5") as server:
        async with open_wire(server.url) as wire:
            with trio.fail_after(20):
                await wire.handshake()
                assert "result" in await wire.request(
                    "process/start", exec_params("stubborn", py(STUBBORN))
                )
                ready, after = await _output_until(wire, "stubborn", b"ready\n")
                child = int(ready.split()[0])
                with pidfd_of(child) as child_fd:
                    await _in_flight_read(wire, "stubborn", request_id=100, after_seq=after)
                    server.process.send_signal(signal.SIGTERM)
                    reply = await wire.response(100)
                    chunks = reply["result"]["chunks"]
                    assert b"".join(unb64(c["chunk"]) for c in chunks) == b"got TERM\n"
                    with pytest.raises(WireClosed):
                        await wire.request("process/list", {})
                    assert server.process.poll() is None  # draining: the child has the grace
                    server.process.send_signal(signal.SIGTERM)
                    assert await server.process.wait() == 0
                    await wait_dead(child_fd)
        assert "shutting down now" in server.stderr_text()


async def test_the_cli_exits_once_a_drain_leaves_nothing_running() -> None:
    async with open_execsrv("--shutdown-grace", "60") as server, open_wire(server.url) as wire:
        with trio.fail_after(20):
            await wire.handshake()
            started = await wire.request("process/start", exec_params("p", ["sleep", "60"]))
            assert "result" in started
            await _in_flight_read(wire, "p", request_id=100)
            server.process.send_signal(signal.SIGINT)
            reply = await wire.response(100)
            assert reply["result"]["exited"] is True
            assert await server.process.wait() == 0
