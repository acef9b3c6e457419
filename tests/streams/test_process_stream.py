"""open_process_stream: a trio byte stream over a real child's stdin and stdout, on
LocalBackend and through a real in-process server (the Client itself as the target)."""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator
from functools import partial
from pathlib import Path

import pytest
import trio

import execsrv
from execsrv import OutputLost, ProcessStream, open_process_stream
from execsrv.backend import ExecBackend, ExitStatus, LocalBackend
from execsrv.process import ProcessLimits
from execsrv.streams import WRITE_CHUNK_BYTES

from ..conftest import CHILD_ENV, TEST_CONFIG
from ..proxy import open_proxy

Target = ExecBackend | execsrv.Client

MIB = 1 << 20


@pytest.fixture(params=["local", "remote"])
async def target(request: pytest.FixtureRequest, nursery: trio.Nursery) -> AsyncIterator[Target]:
    if request.param == "local":
        async with LocalBackend.open(ProcessLimits(kill_grace_seconds=0.5)) as local:
            yield local
    else:
        server = await nursery.start(partial(execsrv.serve, "ws://127.0.0.1:0", config=TEST_CONFIG))
        async with execsrv.connect(server.url, client_name="pytest-streams") as client:
            yield client


async def receive_into(stream: ProcessStream, received: bytearray) -> None:
    while data := await stream.receive_some():
        received += data


async def receive_all(stream: ProcessStream) -> bytes:
    received = bytearray()
    await receive_into(stream, received)
    return bytes(received)


async def test_one_mebibyte_of_binary_comes_back_exactly_through_cat(target: Target) -> None:
    payload = os.urandom(MIB)
    with trio.fail_after(30):
        async with open_process_stream(target, ["cat"], env=CHILD_ENV) as stream:
            assert isinstance(stream, trio.abc.HalfCloseableStream)

            async def send() -> None:
                await stream.send_all(payload[:100_000])
                await stream.send_all(memoryview(payload)[100_000:])  # any buffer
                await stream.send_eof()

            async with trio.open_nursery() as nursery:
                nursery.start_soon(send)
                received = await receive_all(stream)
            assert received == payload
            assert await stream.receive_some() == b""
            assert await stream.process.wait() == ExitStatus(0)


async def test_send_eof_reaches_the_child_which_exits_and_later_sends_raise(
    target: Target,
) -> None:
    script = "import sys; data = sys.stdin.buffer.read(); print(len(data), 'bytes then EOF')"
    with trio.fail_after(10):
        async with open_process_stream(
            target, [sys.executable, "-c", script], env=CHILD_ENV
        ) as stream:
            await stream.send_all(b"12345")
            await stream.send_eof()
            assert await receive_all(stream) == b"5 bytes then EOF\n"
            assert (await stream.process.wait()).exit_code == 0
            with pytest.raises(trio.ClosedResourceError):
                await stream.send_all(b"more")
            await stream.send_eof()  # idempotent
        with pytest.raises(trio.ClosedResourceError):
            await stream.receive_some()


async def test_stderr_goes_to_the_callback_never_into_the_stream(target: Target) -> None:
    stderr = bytearray()
    script = "echo out1; echo err1 >&2; echo out2; echo err2 >&2"
    with trio.fail_after(10):
        async with open_process_stream(
            target, ["sh", "-c", script], env=CHILD_ENV, on_stderr=stderr.extend
        ) as stream:
            assert await receive_all(stream) == b"out1\nout2\n"
    assert stderr == b"err1\nerr2\n"


async def test_stderr_goes_to_the_execsrv_process_logger_by_default(
    target: Target, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="execsrv.process")
    with trio.fail_after(10):
        async with open_process_stream(
            target, ["sh", "-c", "echo hidden >&2; echo shown"], env=CHILD_ENV
        ) as stream:
            assert await receive_all(stream) == b"shown\n"
    assert any("hidden" in r.getMessage() for r in caplog.records if r.name == "execsrv.process")


IGNORES_TERM = """
import signal, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
print("ready", flush=True)
sys.stdin.buffer.read()
sys.stderr.write("saw EOF\\n"); sys.stderr.flush()
while True:
    time.sleep(60)
"""


async def test_closing_kills_a_child_that_ignores_eof_and_sigterm_after_the_grace(
    target: Target,
) -> None:
    stderr = bytearray()
    grace = 0.3
    with trio.fail_after(10):
        async with open_process_stream(
            target,
            [sys.executable, "-c", IGNORES_TERM],
            env=CHILD_ENV,
            on_stderr=stderr.extend,
            grace_seconds=grace,
        ) as stream:
            assert await stream.receive_some() == b"ready\n"  # SIGTERM is ignored from here
            started = trio.current_time()
        took = trio.current_time() - started
    status = stream.process.events.exit_status
    assert status is not None
    assert status.exit_code == 128 + 9
    assert stderr == b"saw EOF\n"  # stdin was closed first
    assert took >= 2 * grace  # a grace after EOF, another after SIGTERM


async def test_closing_ends_a_cooperative_child_with_stdin_eof_alone(target: Target) -> None:
    with trio.fail_after(10):
        async with open_process_stream(target, ["cat"], env=CHILD_ENV, grace_seconds=5) as stream:
            await stream.send_all(b"x")
            assert await stream.receive_some() == b"x"
    status = stream.process.events.exit_status
    assert status == ExitStatus(0)


FLOOD = """
import sys
for _ in range(1024):
    sys.stdout.buffer.write(b"x" * 4096)
    sys.stdout.flush()
with open(sys.argv[1], "w") as done:
    done.write("done")
"""


@pytest.mark.parametrize("where", ["local", "remote"])
async def test_output_evicted_by_retention_raises_output_lost(
    where: str, nursery: trio.Nursery, tmp_path: Path
) -> None:
    """4 MiB nobody reads while retention holds 4 KiB: the client holds the first
    1024 events, the server evicted much of the rest; the stream raises, never skips."""
    fifo = tmp_path / "done"
    os.mkfifo(fifo)
    argv = [sys.executable, "-c", FLOOD, str(fifo)]
    with trio.fail_after(30):
        async with trio.open_nursery() as inner:
            if where == "local":
                limits = ProcessLimits(retained_output_bytes=4096, kill_grace_seconds=0.5)
                target: Target = await inner.start(_serve_local, limits)
            else:
                config = execsrv.ServerConfig(retention_bytes=4096, kill_grace=0.5)
                server = await nursery.start(
                    partial(execsrv.serve, "ws://127.0.0.1:0", config=config)
                )
                target = await inner.start(_serve_client, server.url)
            async with open_process_stream(
                target, argv, env=CHILD_ENV, grace_seconds=0.5
            ) as stream:
                async with await trio.open_file(fifo, "rb") as done:
                    assert await done.read() == b"done"  # the child wrote it all
                if isinstance(target, execsrv.Client):
                    # A reply comes after the notifications the server sent before it.
                    await target.list_processes()
                received = bytearray()
                with pytest.raises(OutputLost) as lost:
                    await receive_into(stream, received)
                # What the client held in order came first; then the evicted rest raises.
                assert 0 < len(received) < 4 * MIB
                assert received.count(b"x") == len(received)
                assert lost.value.gap is not None
                assert lost.value.gap.first > 1
                assert "retention" in str(lost.value)
                with pytest.raises(OutputLost):  # it stays broken
                    await stream.receive_some()
            inner.cancel_scope.cancel()


async def _serve_local(limits: ProcessLimits, task_status: trio.TaskStatus[Target]) -> None:
    async with LocalBackend.open(limits) as local:
        task_status.started(local)
        await trio.sleep_forever()


async def _serve_client(url: str, task_status: trio.TaskStatus[Target]) -> None:
    async with execsrv.connect(url, client_name="pytest-streams") as client:
        task_status.started(client)
        await trio.sleep_forever()


async def test_a_dropped_connection_is_resumed_without_losing_or_duplicating_bytes(
    server: execsrv.ExecServer,
) -> None:
    """The connection is reset with output in flight; a write during the outage fails
    and is never re-sent; the resumed stream delivers every byte sent before it once."""
    assert server.port is not None
    before = os.urandom(512 << 10)
    with trio.fail_after(30):
        async with (
            open_proxy(server.port) as proxy,
            execsrv.connect(proxy.url, auto_resume=True) as client,
            open_process_stream(client, ["cat"], env=CHILD_ENV) as stream,
        ):
            await stream.send_all(before)
            head = await stream.receive_some(1000)
            proxy.hold()
            assert proxy.sever() == 1
            with pytest.raises(trio.BrokenResourceError):
                await stream.send_all(b"LOST WRITE")
            proxy.release()
            await client.wait_resumed()
            with pytest.raises(trio.BrokenResourceError):  # stdin stays broken: no re-send
                await stream.send_all(b"again")
            await stream.send_eof()
            received = head + await receive_all(stream)
            assert received == before
            assert client.resumes == 1


async def test_a_connection_gone_for_good_raises_output_lost_without_a_gap(
    server: execsrv.ExecServer,
) -> None:
    assert server.port is not None
    with trio.fail_after(30):
        async with (
            open_proxy(server.port) as proxy,
            execsrv.connect(proxy.url) as client,  # no auto_resume: the first loss is final
            open_process_stream(client, ["cat"], env=CHILD_ENV, grace_seconds=0.5) as stream,
        ):
            await stream.send_all(b"before")
            assert await stream.receive_some() == b"before"
            assert proxy.sever() == 1
            with pytest.raises(OutputLost) as lost:
                await stream.receive_some()
            assert lost.value.gap is None
            assert "connection" in str(lost.value)


async def test_a_send_larger_than_one_write_arrives_whole(target: Target) -> None:
    payload = os.urandom(2 * WRITE_CHUNK_BYTES + 1)
    with trio.fail_after(30):
        async with open_process_stream(target, ["cat"], env=CHILD_ENV) as stream:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(stream.send_all, payload)
                received = bytearray()
                while len(received) < len(payload):
                    received += await stream.receive_some()
            assert received == payload


async def test_closing_while_cancelled_still_ends_the_child(target: Target) -> None:
    with trio.fail_after(10):
        with trio.CancelScope() as scope:
            async with open_process_stream(
                target, [sys.executable, "-c", IGNORES_TERM], env=CHILD_ENV, grace_seconds=0.1
            ) as stream:
                assert await stream.receive_some() == b"ready\n"
                scope.cancel()  # the close below runs with the cancellation pending
        assert scope.cancelled_caught
    status = stream.process.events.exit_status
    assert status is not None
    assert status.exit_code == 128 + 9
