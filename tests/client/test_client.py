"""The trio client's core: handshake, id matching, typed results, errors, disconnects.

DESIGN.md §3 and spec §11: after the transport is lost every pending call and
every later call raises ``Disconnected``, process event streams end with a
``Failed`` event, and nothing hangs.
"""

from __future__ import annotations

import signal
import uuid
from collections.abc import Awaitable, Callable

import pytest
import trio
import trio.testing

import execsrv
from execsrv import Disconnected, RemoteError
from execsrv.protocol import process as p
from execsrv.protocol.fs import FsReadFileParams
from execsrv.protocol.methods import FS_READ_FILE, PROCESS_READ, PROCESS_WRITE, Method

from ..conftest import CHILD_ENV, TEST_CONFIG
from ..servers import open_execsrv
from ..wire import open_wire


async def test_handshake_gives_a_uuid4_session(client: execsrv.Client) -> None:
    assert uuid.UUID(client.session_id).version == 4
    assert client.disconnected is None
    # `initialized` went out: process methods are allowed.
    assert await client.list_processes() == []


async def test_typed_results(client: execsrv.Client) -> None:
    with trio.fail_after(10):
        argv = ["sh", "-c", "printf 'a\\0b'; exit 4"]
        proc = await client.start_process(argv, env=CHILD_ENV, process_id="typed")
        assert proc.process_id == "typed"
        result = await proc.communicate()
        assert bytes(result.stdout) == b"a\0b"
        assert result.exit_code == 4
        read = await proc.read()
        assert isinstance(read, p.ReadResponse)
        assert [type(chunk) for chunk in read.chunks] == [p.ProcessOutputChunk]
        assert read.chunks[0].chunk == b"a\0b"
        assert read.chunks[0].stream == "stdout"
        assert (read.exited, read.exit_code, read.closed) == (True, 4, True)
        listed = await client.list_processes()
        assert listed == [
            p.ProcessInfo(process_id="typed", argv=argv, tty=False, running=False, exit_code=4)
        ]
        assert await proc.write(b"x") == "stdinClosed"
        nobody = p.WriteParams(process_id="nobody", chunk=b"x")
        assert (await client.call(PROCESS_WRITE, nobody)).status == "unknownProcess"
        assert await proc.terminate() is False


async def test_remote_error_carries_code_and_message(client: execsrv.Client) -> None:
    with pytest.raises(RemoteError) as caught:
        await client.call(PROCESS_READ, p.ReadParams(process_id="missing"))
    assert caught.value.code == -32600
    assert caught.value.message == "unknown process id missing"
    with pytest.raises(RemoteError) as caught:
        await client.start_process([], env=CHILD_ENV)
    assert (caught.value.code, caught.value.message) == (-32602, "argv must not be empty")
    with pytest.raises(RemoteError) as caught:
        await client.call(
            Method("no/such", p.ListParams, p.EmptyResponse, "unknown"), p.ListParams()
        )
    assert caught.value.code == -32601
    assert caught.value.message == "exec-server stub does not implement `no/such` yet"
    assert client.disconnected is None  # errors do not break the connection


async def test_error_codes_become_exception_classes_on_every_call(
    client: execsrv.Client,
) -> None:
    """``-32004`` is ``FileNotFound`` whichever way the call is made (mapped once, in
    the client's peer)."""
    missing = "/no/such/dir/file"
    with pytest.raises(execsrv.FileNotFound) as direct:
        await client.call(FS_READ_FILE, FsReadFileParams(path=missing))
    with pytest.raises(execsrv.FileNotFound) as through_fs:
        await client.fs.read_file(missing)
    assert direct.value.code == through_fs.value.code == -32004
    assert direct.value.message == through_fs.value.message
    with pytest.raises(RemoteError) as other:  # other codes stay plain RemoteErrors
        await client.call(PROCESS_READ, p.ReadParams(process_id="missing"))
    assert type(other.value) is RemoteError


async def test_concurrent_calls_are_matched_by_id(client: execsrv.Client) -> None:
    """Many tasks, many calls in flight at once: every answer reaches its own caller."""
    outcomes: dict[tuple[int, int], str] = {}

    async def worker(task: int) -> None:
        for call in range(15):
            key = (task, call)
            match call % 3:
                case 0:
                    try:
                        missing = p.ReadParams(process_id=f"missing-{task}-{call}")
                        await client.call(PROCESS_READ, missing)
                    except RemoteError as error:
                        outcomes[key] = error.message
                case 1:
                    ghost = p.WriteParams(process_id=f"ghost-{task}-{call}", chunk=b"x")
                    outcomes[key] = (await client.call(PROCESS_WRITE, ghost)).status
                case _:
                    started = await client.start_process(
                        ["true"], env=CHILD_ENV, process_id=f"proc-{task}-{call}"
                    )
                    outcomes[key] = started.process_id

    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            for task in range(20):
                nursery.start_soon(worker, task)
    for (task, call), outcome in outcomes.items():
        expected = [
            f"unknown process id missing-{task}-{call}",
            "unknownProcess",
            f"proc-{task}-{call}",
        ][call % 3]
        assert outcome == expected
    assert len(outcomes) == 20 * 15
    assert len(await client.list_processes()) == 20 * 5


async def _start_cat(client: execsrv.Client) -> execsrv.RemoteProcess:
    proc = await client.start_process(["cat"], env=CHILD_ENV, pipe_stdin=True, process_id="cat")
    assert await proc.write(b"hello\n") == "accepted"
    return proc


async def _pending_calls_then(
    client: execsrv.Client,
    cut: Callable[[], Awaitable[object]],
    expected: type[Exception] = Disconnected,
) -> None:
    """Leave calls (long-poll reads) in flight, run ``cut()``, check every outcome.

    The pending calls raise ``expected`` (``Disconnected``, or the server's own
    error when it answers them before closing), the process event stream ends
    with ``Failed``, and every later call raises the client's ``Disconnected``.
    """
    proc = await _start_cat(client)
    events: list[execsrv.ProcessEvent] = []
    first_output = trio.Event()
    outcomes: list[BaseException | object] = []

    async def consume() -> None:
        async for event in proc.events:
            events.append(event)
            if isinstance(event, execsrv.Output):
                first_output.set()

    async def long_poll(index: int) -> None:
        try:
            outcomes.append(await proc.read(after_seq=1000 + index, wait_ms=60_000))
        except (Disconnected, RemoteError) as error:
            outcomes.append(error)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(consume)
        await first_output.wait()
        for index in range(5):
            nursery.start_soon(long_poll, index)
        await trio.testing.wait_all_tasks_blocked()
        await cut()
    assert len(outcomes) == 5
    for outcome in outcomes:
        assert type(outcome) is expected, outcome
    assert isinstance(events[0], execsrv.Output)
    assert events[0].data == b"hello\n"
    assert isinstance(events[-1], execsrv.Failed)
    assert client.disconnected is not None
    # Every later call fails at once, with the same error.
    with pytest.raises(Disconnected) as later:
        await client.list_processes()
    assert later.value is client.disconnected
    with pytest.raises(Disconnected):
        await proc.write(b"more")
    with pytest.raises(Disconnected):
        await client.start_process(["true"], env=CHILD_ENV)


async def test_server_sigkilled_mid_call() -> None:
    with trio.fail_after(30):
        async with open_execsrv() as server, execsrv.connect(server.url) as client:

            async def cut() -> None:
                server.process.send_signal(signal.SIGKILL)

            await _pending_calls_then(client, cut)
            reason = client.disconnected
            assert isinstance(reason, Disconnected)
            assert str(reason).startswith("exec-server transport disconnected")


async def test_server_shutdown_mid_call() -> None:
    """The in-process server is stopped (its scope cancelled), the client is not."""
    server_scope = trio.CancelScope()

    async def run_server(*, task_status: trio.TaskStatus[execsrv.ExecServer]) -> None:
        with server_scope:
            await execsrv.serve("ws://127.0.0.1:0", config=TEST_CONFIG, task_status=task_status)

    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            server = await nursery.start(run_server)
            async with execsrv.connect(server.url) as client:

                async def cut() -> None:
                    server_scope.cancel()

                await _pending_calls_then(client, cut)


async def test_connection_closed_by_the_server_after_takeover(
    server: execsrv.ExecServer,
) -> None:
    """Another connection resumes our session: in-flight long-polls answer -32600, the
    server closes our connection, and from then on every call is ``Disconnected``."""
    assert server.url is not None
    with trio.fail_after(30):
        async with execsrv.connect(server.url) as client, open_wire(server.url) as thief:

            async def cut() -> None:
                reply = await thief.request(
                    "initialize", {"clientName": "thief", "resumeSessionId": client.session_id}
                )
                assert reply["result"]["sessionId"] == client.session_id

            await _pending_calls_then(client, cut, expected=RemoteError)


async def test_connect_to_a_closed_port_raises_disconnected_promptly() -> None:
    listener = trio.socket.socket()
    await listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    listener.close()  # bound but never listening: the port refuses connections
    with trio.fail_after(5), pytest.raises(Disconnected) as caught:
        async with execsrv.connect(f"ws://127.0.0.1:{port}"):
            pytest.fail("connected to a closed port")
    assert f"127.0.0.1:{port}" in str(caught.value)


async def test_exceptions_inside_connect_come_out_unwrapped(server: execsrv.ExecServer) -> None:
    assert server.url is not None

    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        async with execsrv.connect(server.url):
            raise Boom
    with pytest.raises(RemoteError) as caught:
        async with execsrv.connect(server.url) as client:
            await client.call(PROCESS_READ, p.ReadParams(process_id="missing"))
    assert caught.value.code == -32600
    with pytest.raises(KeyError):
        async with execsrv.connect(server.url):
            raise KeyError("k")


async def test_refused_initialize_raises_remote_error_unwrapped(
    server: execsrv.ExecServer,
) -> None:
    assert server.url is not None
    with pytest.raises(RemoteError) as caught:
        async with execsrv.connect(server.url, resume_session_id="no-such-session"):
            pytest.fail("resumed an unknown session")
    assert caught.value.code == -32600
    assert caught.value.message == "unknown session id no-such-session"


async def test_cancellation_inside_connect_is_clean(server: execsrv.ExecServer) -> None:
    assert server.url is not None
    with trio.fail_after(10):
        with trio.move_on_after(0.01) as scope:
            async with execsrv.connect(server.url) as client:
                assert client.disconnected is None
                await trio.sleep_forever()
        assert scope.cancelled_caught
        await _still_serving(server.url)


async def test_cancellation_inside_connect_is_prompt(server: execsrv.ExecServer) -> None:
    assert server.url is not None
    cancelled_at = trio.current_time() + 0.01
    with trio.move_on_after(0.01):
        async with execsrv.connect(server.url):
            await trio.sleep_forever()
    assert trio.current_time() - cancelled_at < 1.0


async def _still_serving(url: str) -> None:
    async with execsrv.connect(url) as client:
        assert await client.list_processes() == []


async def test_a_refused_duplicate_id_leaves_the_live_process_alone(
    client: execsrv.Client,
) -> None:
    with trio.fail_after(10):
        live = await client.start_process(
            ["sh", "-c", "read x; echo got $x"], env=CHILD_ENV, process_id="dup", pipe_stdin=True
        )
        with pytest.raises(RemoteError, match="process dup already exists"):
            await client.start_process(["true"], env=CHILD_ENV, process_id="dup")
        await live.write(b"it\n")
        result = await live.communicate()  # its events still reach its stream
        assert bytes(result.stdout) == b"got it\n"
