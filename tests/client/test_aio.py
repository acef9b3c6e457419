"""execsrv.aio: the trio client from asyncio code (``asyncio.run``), against a real
``execsrv serve`` subprocess. The tests are sync: each runs its own asyncio loop."""

from __future__ import annotations

import asyncio
import hashlib
import os
import subprocess
import sys
import threading
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest
import trio

import execsrv
import execsrv.aio
from execsrv.client.events import ExitStatus
from execsrv.protocol import process as p
from execsrv.protocol.errors import INVALID_REQUEST
from execsrv.protocol.methods import PROCESS_SIGNAL

from ..servers import LISTEN_ANY_PORT, ROOT, STARTUP_TIMEOUT, TERMINATE_GRACE

T = TypeVar("T")

ENV = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
CALL_SECONDS = 20.0
"""A bound on each test's asyncio main, so a hang fails instead of stalling the suite."""


@pytest.fixture(scope="module")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    stderr_path = tmp_path_factory.mktemp("aio") / "stderr.log"
    argv = [sys.executable, "-m", "execsrv", "serve", "--listen", LISTEN_ANY_PORT]
    with stderr_path.open("wb") as stderr:
        server = subprocess.Popen(
            argv, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=stderr
        )
    try:
        assert server.stdout is not None
        # The server prints its URL first; a timer kills it if it never does.
        with _kill_after(server, STARTUP_TIMEOUT):
            line = server.stdout.readline().decode().strip()
        assert line.startswith("ws://"), stderr_path.read_text()
        yield line
    finally:
        server.terminate()
        try:
            server.wait(TERMINATE_GRACE)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        assert server.stdout is not None
        server.stdout.close()


class _kill_after:
    """Kill ``process`` unless the block ends within ``seconds`` (a blocking read's bound)."""

    def __init__(self, process: subprocess.Popen[bytes], seconds: float) -> None:
        self._timer = threading.Timer(seconds, process.kill)

    def __enter__(self) -> None:
        self._timer.start()

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()


def run(main: Callable[[], Awaitable[T]]) -> T:
    async def bounded() -> T:
        async with asyncio.timeout(CALL_SECONDS):
            return await main()

    return asyncio.run(bounded())


def test_echo(server_url: str) -> None:
    async def main() -> execsrv.ProcessResult:
        async with execsrv.aio.connect(server_url) as client:
            process = await client.start_process(["echo", "hello"], env=ENV)
            return await process.communicate()

    result = run(main)
    assert (bytes(result.stdout), result.exit_code, result.gaps) == (b"hello\n", 0, [])


def test_a_large_output_is_streamed_exactly(server_url: str) -> None:
    size = 4 << 20
    script = f"head -c {size} /dev/urandom | tee /dev/stderr | sha256sum"

    async def main() -> tuple[bytes, bytes, int]:
        async with execsrv.aio.connect(server_url) as client:
            process = await client.start_process(["sh", "-c", script], env=ENV)
            stdout, stderr = bytearray(), bytearray()
            exit_code = -1
            async for event in process:
                match event:
                    case execsrv.Output(stream="stderr", data=data):
                        stderr += data
                    case execsrv.Output(data=data):
                        stdout += data
                    case execsrv.Exited(exit_code=code):
                        exit_code = code
                    case execsrv.Gap() | execsrv.Failed():
                        pytest.fail(f"unexpected {event}")
            return bytes(stdout), bytes(stderr), exit_code

    stdout, stderr, exit_code = run(main)
    assert exit_code == 0
    assert len(stderr) == size
    assert stdout.split()[0].decode() == hashlib.sha256(stderr).hexdigest()


def test_stdin_reaches_cat(server_url: str) -> None:
    async def main() -> execsrv.ProcessResult:
        async with execsrv.aio.connect(server_url) as client:
            process = await client.start_process(["cat"], env=ENV, pipe_stdin=True)
            assert await process.write(b"one\n") == "accepted"
            assert await process.write(b"two\n") == "accepted"
            await process.close_stdin()
            return await process.communicate()

    result = run(main)
    assert (bytes(result.stdout), result.exit_code) == (b"one\ntwo\n", 0)


def test_a_cancelled_call_leaves_the_process_usable_and_terminable(server_url: str) -> None:
    async def main() -> tuple[bytes, ExitStatus]:
        async with execsrv.aio.connect(server_url) as client:
            process = await client.start_process(["cat"], env=ENV, pipe_stdin=True)
            # cat never exits by itself: the wait is mid-call when the timeout cancels it.
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(0.3):
                    await process.wait()
            # The trio side is unharmed: the event stream carries on where it was.
            await process.write(b"after\n")
            echoed = bytearray()
            async for event in process:
                if isinstance(event, execsrv.Output):
                    echoed += event.data
                    if echoed == b"after\n":
                        break
            assert await process.terminate() is True
            return bytes(echoed), await process.wait()

    echoed, status = run(main)
    assert echoed == b"after\n"
    assert status.signal == "SIGKILL"


def test_cancellation_reaches_the_trio_call_before_the_await_ends(server_url: str) -> None:
    ended: list[str] = []

    async def sleep_in_trio(client: execsrv.Client) -> None:
        try:
            await trio.sleep_forever()
        except trio.Cancelled:
            ended.append("cancelled in trio")
            raise

    async def main() -> list[str]:
        async with execsrv.aio.connect(server_url) as client:
            task = asyncio.create_task(client.run_trio(sleep_in_trio))
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(0.2):
                    await asyncio.shield(task)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            return list(ended)  # as the CancelledError arrived

    assert run(main) == ["cancelled in trio"]


def test_errors_keep_their_execsrv_types(server_url: str, tmp_path: Path) -> None:
    async def main() -> None:
        async with execsrv.aio.connect(server_url) as client:
            with pytest.raises(execsrv.FileNotFound):
                await client.fs.read_file(tmp_path / "missing")
            unknown = p.SignalParams(process_id="no-such-process", signal="kill")
            with pytest.raises(execsrv.RemoteError) as caught:
                await client.run_trio(lambda trio_client: trio_client.call(PROCESS_SIGNAL, unknown))
            assert caught.value.code == INVALID_REQUEST
            assert caught.value.message == "unknown process id no-such-process"

    run(main)


def test_files_are_written_and_read(server_url: str, tmp_path: Path) -> None:
    path = tmp_path / "dir" / "file.bin"
    data = bytes(range(256)) * 100

    async def main() -> bytes:
        async with execsrv.aio.connect(server_url) as client:
            await client.fs.create_directory(path.parent)
            await client.fs.write_file(path, data)
            assert (await client.fs.get_metadata(path)).size == len(data)
            return await client.fs.read_file(path)

    assert run(main) == data
    assert path.read_bytes() == data


def test_clients_on_one_loop_share_a_guest_run(server_url: str) -> None:
    async def one(text: str) -> bytes:
        async with execsrv.aio.connect(server_url) as client:
            result = await (await client.start_process(["echo", text], env=ENV)).communicate()
            return bytes(result.stdout)

    async def main() -> list[bytes]:
        first = await one("before")  # a run that started and stopped
        return [first, *await asyncio.gather(one("a"), one("b"), one("c"))]

    assert run(main) == [b"before\n", b"a\n", b"b\n", b"c\n"]


def test_a_failed_connect_raises_disconnected_and_the_next_one_works(server_url: str) -> None:
    async def main() -> bytes:
        with pytest.raises(execsrv.Disconnected):
            async with execsrv.aio.connect("ws://127.0.0.1:1"):
                pytest.fail("connected to a closed port")
        async with execsrv.aio.connect(server_url) as client:
            result = await (await client.start_process(["echo", "ok"], env=ENV)).communicate()
            return bytes(result.stdout)

    assert run(main) == b"ok\n"


def test_an_error_in_the_block_aborts_the_connection(server_url: str) -> None:
    async def main() -> None:
        async with execsrv.aio.connect(server_url) as client:
            await client.start_process(["sleep", "60"], env=ENV)
            raise LookupError("the harness failed")

    with pytest.raises(LookupError, match="the harness failed"):
        run(main)


def test_http_request_made_by_the_server(server_url: str) -> None:
    """The server fetches from an HTTP server on this very asyncio loop: the loop keeps
    serving while the trio guest awaits the reply."""

    async def respond(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = await reader.readuntil(b"\r\n\r\n")
        body = request.split(b"\r\n")[0]
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body))
        await writer.drain()
        writer.close()
        await writer.wait_closed()

    async def main() -> tuple[int, bytes | execsrv.client.HttpBodyStream]:
        http_server = await asyncio.start_server(respond, "127.0.0.1", 0)
        async with http_server:
            port = http_server.sockets[0].getsockname()[1]
            async with execsrv.aio.connect(server_url) as client:
                response = await client.http_request("GET", f"http://127.0.0.1:{port}/path")
        return response.status, response.body

    assert run(main) == (200, b"GET /path HTTP/1.1")
