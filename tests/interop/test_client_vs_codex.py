"""execsrv's client (``execsrv.connect``) driving the real codex 0.130.0 server.

DESIGN.md §1: execsrv's client must work against codex for every method codex
has. Each test starts its own codex (about 0.3 s), so killing one is harmless.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import trio
import trio.testing

import execsrv
from execsrv import Closed, Disconnected, Exited, Failed, Output, RemoteError
from execsrv.protocol import process as p
from execsrv.protocol.methods import PROCESS_READ, PROCESS_TERMINATE, PROCESS_WRITE

from ..conftest import CHILD_ENV
from ..servers import RunningServer, open_codex

pytestmark = pytest.mark.interop

WAIT = 15


@pytest.fixture
async def codex() -> AsyncIterator[RunningServer]:
    async with open_codex() as server:
        yield server


@pytest.fixture
async def client(codex: RunningServer) -> AsyncIterator[execsrv.Client]:
    async with execsrv.connect(codex.url, client_name="interop") as connected:
        yield connected


async def test_handshake(client: execsrv.Client) -> None:
    assert len(client.session_id) == 36
    assert client.disconnected is None


async def test_output_events_in_seq_order(client: execsrv.Client) -> None:
    script = "echo out; echo err >&2; (sleep 0.2; echo late) & exit 3"
    with trio.fail_after(WAIT):
        proc = await client.start_process(["sh", "-c", script], env=CHILD_ENV)
        events = [event async for event in proc.events]
    seqs = [event.seq for event in events if not isinstance(event, Failed)]
    assert seqs == list(range(1, len(events) + 1))
    assert isinstance(events[-1], Closed)
    exits = [event for event in events if isinstance(event, Exited)]
    assert exits == [Exited(exits[0].seq, 3, None)]  # codex has no `signal` field
    outputs = [event for event in events if isinstance(event, Output)]
    stdout = b"".join(event.data for event in outputs if event.stream == "stdout")
    stderr = b"".join(event.data for event in outputs if event.stream == "stderr")
    assert stdout == b"out\nlate\n"
    assert stderr == b"err\n"
    late = next(event for event in outputs if event.data == b"late\n")
    assert exits[0].seq < late.seq


async def test_communicate(client: execsrv.Client) -> None:
    with trio.fail_after(WAIT):
        proc = await client.start_process(
            ["sh", "-c", "printf 'a\\0b'; printf e >&2; exit 4"], env=CHILD_ENV
        )
        result = await proc.communicate()
    assert bytes(result.stdout) == b"a\0b"
    assert bytes(result.stderr) == b"e"
    assert result.exit_code == 4
    assert result.signal is None


async def test_read_process(client: execsrv.Client) -> None:
    with trio.fail_after(WAIT):
        proc = await client.start_process(
            ["sh", "-c", "printf one; exit 2"], env=CHILD_ENV, process_id="r"
        )
        await proc.communicate()
        read = await proc.read()
        # The nextSeq quirk: the last chunk + 1; the next read gives the true next seq.
        again = await proc.read(after_seq=read.next_seq - 1, wait_ms=5000)
        limited = await proc.read(max_bytes=0)
    assert [chunk.chunk for chunk in read.chunks] == [b"one"]
    assert read.chunks[0].stream == "stdout"
    assert read.next_seq == read.chunks[0].seq + 1
    assert (read.exited, read.exit_code, read.closed, read.failure) == (True, 2, True, None)
    # codex has none of execsrv's read extensions; the client fills in defaults.
    assert (read.truncated, read.exit_seq, read.closed_seq) == (False, None, None)
    assert again.chunks == []
    assert again.next_seq == 4  # output, exited and closed took seqs 1-3
    assert limited.chunks == read.chunks


async def test_long_poll_read(client: execsrv.Client) -> None:
    with trio.fail_after(WAIT):
        proc = await client.start_process(
            ["sh", "-c", "sleep 0.3; echo woke; exec cat"], env=CHILD_ENV, pipe_stdin=True
        )
        read = await proc.read(after_seq=0, wait_ms=10_000)
        assert [chunk.chunk for chunk in read.chunks] == [b"woke\n"]
        assert read.exited is False
        assert await proc.terminate() is True


async def test_write_to_a_piped_cat(client: execsrv.Client) -> None:
    with trio.fail_after(WAIT):
        proc = await client.start_process(["cat"], env=CHILD_ENV, pipe_stdin=True)
        assert await proc.write(b"hello\n") == "accepted"
        assert await proc.write(b"world\n") == "accepted"
        echoed = b""
        events = proc.events
        while echoed != b"hello\nworld\n":
            event = await events.__anext__()
            assert isinstance(event, Output)
            echoed += event.data
        assert await proc.terminate() is True
        rest = [event async for event in events]
    assert isinstance(rest[-1], Closed)
    assert [event.exit_code for event in rest if isinstance(event, Exited)] == [-1]


async def test_write_statuses(client: execsrv.Client) -> None:
    with trio.fail_after(WAIT):
        nope = p.WriteParams(process_id="nope", chunk=b"x")
        assert (await client.call(PROCESS_WRITE, nope)).status == "unknownProcess"
        proc = await client.start_process(["true"], env=CHILD_ENV)
        assert await proc.write(b"x") == "stdinClosed"


async def test_terminate(client: execsrv.Client) -> None:
    with trio.fail_after(WAIT):
        proc = await client.start_process(["sleep", "60"], env=CHILD_ENV)
        assert await proc.terminate() is True
        result = await proc.communicate()
        assert result.exit_code == -1
        assert await proc.terminate() is False
        nope = p.TerminateParams(process_id="nope")
        assert (await client.call(PROCESS_TERMINATE, nope)).running is False


async def test_remote_errors(client: execsrv.Client) -> None:
    with trio.fail_after(WAIT):
        with pytest.raises(RemoteError) as unknown:
            await client.call(PROCESS_READ, p.ReadParams(process_id="nope"))
        assert (unknown.value.code, unknown.value.message) == (-32600, "unknown process id nope")

        dup = await client.start_process(["cat"], env=CHILD_ENV, pipe_stdin=True, process_id="dup")
        with pytest.raises(RemoteError) as duplicate:
            await client.start_process(["true"], env=CHILD_ENV, process_id="dup")
        assert (duplicate.value.code, duplicate.value.message) == (
            -32600,
            "process dup already exists",
        )

        with pytest.raises(RemoteError) as spawn:
            await client.start_process(["/no/such/program"], env=CHILD_ENV)
        assert (spawn.value.code, spawn.value.message) == (
            -32603,
            "No such file or directory (os error 2)",
        )

        # execsrv's extensions are unknown methods to codex.
        with pytest.raises(RemoteError) as extension:
            await dup.signal("interrupt")
        assert (extension.value.code, extension.value.message) == (
            -32601,
            "exec-server stub does not implement `process/signal` yet",
        )
        # The connection is fine afterwards.
        assert await dup.terminate() is True


async def test_concurrent_calls_are_matched_by_id(client: execsrv.Client) -> None:
    """codex answers one at a time; the client still pairs every reply with its call."""
    results: dict[int, bool | str] = {}

    async def call(index: int) -> None:
        process_id = f"nope-{index}"
        if index % 2:
            terminate = p.TerminateParams(process_id=process_id)
            results[index] = (await client.call(PROCESS_TERMINATE, terminate)).running
        else:
            write = p.WriteParams(process_id=process_id, chunk=b"x")
            results[index] = (await client.call(PROCESS_WRITE, write)).status

    with trio.fail_after(WAIT):
        async with trio.open_nursery() as nursery:
            for index in range(40):
                nursery.start_soon(call, index)
    assert results == {i: False if i % 2 else "unknownProcess" for i in range(40)}


async def test_killed_server_fails_pending_and_later_calls(codex: RunningServer) -> None:
    async with execsrv.connect(codex.url) as client:
        with trio.fail_after(WAIT):
            proc = await client.start_process(["cat"], env=CHILD_ENV, pipe_stdin=True)
            pending: list[BaseException] = []

            async def long_poll() -> None:
                try:
                    await proc.read(after_seq=0, wait_ms=60_000)
                except Disconnected as error:
                    pending.append(error)

            async with trio.open_nursery() as nursery:
                nursery.start_soon(long_poll)
                # Every task blocked: the read was sent and waits for its reply.
                await trio.testing.wait_all_tasks_blocked()
                codex.process.kill()
            assert len(pending) == 1
            assert isinstance(pending[0], Disconnected)

            with pytest.raises(Disconnected):
                await proc.terminate()
            with pytest.raises(Disconnected):
                await proc.read()
            assert client.disconnected is not None
            events = [event async for event in proc.events]
            assert len(events) == 1
            assert isinstance(events[0], Failed)
