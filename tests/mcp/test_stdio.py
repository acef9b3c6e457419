"""execsrv.mcp.stdio_client with the real MCP SDK (whichever generation is installed)
against a real SDK-built server (tests/mcp/server.py), run by a real ``execsrv serve``
subprocess and on LocalBackend."""

from __future__ import annotations

import io
import json
import os
import re
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import trio

pytest.importorskip("mcp")

from mcp import ClientSession, StdioServerParameters

import execsrv
import execsrv.mcp
from execsrv.backend import ExecBackend, LocalBackend
from execsrv.process import ProcessLimits

from ..proxy import open_proxy
from ..servers import open_execsrv

Target = ExecBackend | execsrv.Client

SERVER = str(Path(__file__).with_name("server.py"))
try:
    from mcp.shared.exceptions import MCPError as MCP_ERROR  # mcp 2.x
except ImportError:
    from mcp.shared.exceptions import McpError as MCP_ERROR  # type: ignore[no-redef,attr-defined]
EXECUTOR_HOME = "/nonexistent/executor-home"
"""HOME on the executor's side, distinct from the test process's."""


@pytest.fixture(params=["local", "serve"])
async def target(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Target]:
    """LocalBackend (the executor is this process), or a client of a real ``execsrv serve``
    subprocess. Either way the executor's HOME is EXECUTOR_HOME and it has a variable the
    SDK's default environment must not pass on."""
    executor_env = {"HOME": EXECUTOR_HOME, "EXECSRV_TEST_NOT_INHERITED": "leak"}
    if request.param == "local":
        for name, value in executor_env.items():
            monkeypatch.setenv(name, value)
        async with LocalBackend.open(ProcessLimits(kill_grace_seconds=0.5)) as local:
            yield local
    else:
        async with (
            open_execsrv("--kill-grace", "0.5", env=executor_env) as server,
            execsrv.connect(server.url, client_name="pytest-mcp") as client,
        ):
            yield client


class StreamErrors:
    """The exceptions the transport put on the read stream (the SDK hands each to the
    session's message handler)."""

    def __init__(self) -> None:
        self.items: list[Exception] = []

    async def on_message(self, message: Any) -> None:
        if isinstance(message, Exception):
            self.items.append(message)


def text_of(result: Any) -> str:
    assert not result.isError if hasattr(result, "isError") else not result.is_error
    return str(result.content[0].text)


async def test_lists_and_calls_tools_in_a_server_running_on_the_executor(
    target: Target, tmp_path: Path
) -> None:
    errlog = io.StringIO()
    with trio.fail_after(30):
        async with (
            execsrv.mcp.stdio_client(
                target, sys.executable, [SERVER], {"MARKER": "m-1"}, cwd=tmp_path, errlog=errlog
            ) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            tools = await session.list_tools()
            assert {"add", "whoami", "big", "chatty", "noisy", "crash"} <= {
                tool.name for tool in tools.tools
            }
            assert text_of(await session.call_tool("add", {"a": 40, "b": 2})) == "42"
            where = json.loads(text_of(await session.call_tool("whoami", {})))
    assert where["pid"] != os.getpid()
    assert where["cwd"] == str(tmp_path)
    assert where["marker"] == "m-1"  # env laid over the inherited default set
    assert where["home"] == EXECUTOR_HOME  # the executor's HOME, not this process's
    assert where["secret"] is None  # only the SDK's safe default set is inherited


async def test_sdk_server_parameters_are_accepted(target: Target) -> None:
    params = StdioServerParameters(command=sys.executable, args=[SERVER], env={"MARKER": "p"})
    with trio.fail_after(30):
        async with (
            execsrv.mcp.stdio_client(target, params) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            assert json.loads(text_of(await session.call_tool("whoami", {})))["marker"] == "p"


async def test_a_large_result_arrives_whole(target: Target) -> None:
    size = 3 << 20
    with trio.fail_after(60):
        async with (
            execsrv.mcp.stdio_client(target, sys.executable, [SERVER]) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            text = text_of(await session.call_tool("big", {"size": size}))
    assert len(text) == size
    assert text == ("0123456789abcdef" * (size // 16 + 1))[:size]


async def test_server_notifications_reach_the_session_in_order(target: Target) -> None:
    seen: list[str] = []

    async def on_log(params: Any) -> None:
        seen.append(str(params.data))

    with trio.fail_after(30):
        async with (
            execsrv.mcp.stdio_client(target, sys.executable, [SERVER]) as (read, write),
            ClientSession(read, write, logging_callback=on_log) as session,
        ):
            await session.initialize()
            assert text_of(await session.call_tool("chatty", {"count": 20})) == "done"
    assert seen == [f"step {n}" for n in range(20)]


async def test_stderr_goes_to_errlog_never_into_the_session(target: Target) -> None:
    errlog = io.StringIO()
    with trio.fail_after(30):
        async with (
            execsrv.mcp.stdio_client(target, sys.executable, [SERVER], errlog=errlog) as (
                read,
                write,
            ),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            assert text_of(await session.call_tool("noisy", {"lines": 2000})) == "quiet now"
            assert text_of(await session.call_tool("add", {"a": 1, "b": 1})) == "2"
    lines = [line for line in errlog.getvalue().splitlines() if line.startswith("stderr line")]
    assert len(lines) == 2000


async def test_a_crashing_server_fails_the_call_with_a_clear_error(target: Target) -> None:
    errlog = io.StringIO()
    stream_errors = StreamErrors()

    with trio.fail_after(30):
        async with (
            execsrv.mcp.stdio_client(target, sys.executable, [SERVER], errlog=errlog) as (
                read,
                write,
            ),
            ClientSession(read, write, message_handler=stream_errors.on_message) as session,
        ):
            await session.initialize()
            with pytest.raises(MCP_ERROR, match="Connection closed"):
                await session.call_tool("crash", {})
    assert "crashing on purpose" in errlog.getvalue()
    [error] = stream_errors.items
    assert isinstance(error, ConnectionError)
    assert re.fullmatch(r"MCP server mcp-stdio-\d+ exited \(exit code 3\)", str(error))


async def test_leaving_the_block_ends_the_server_even_when_cancelled(target: Target) -> None:
    """Closing is shielded: a cancelled caller still gets the server stopped."""
    with trio.fail_after(30):
        with trio.CancelScope() as scope:
            async with (
                execsrv.mcp.stdio_client(target, sys.executable, [SERVER]) as (read, write),
                ClientSession(read, write) as session,
            ):
                await session.initialize()
                pid = json.loads(text_of(await session.call_tool("whoami", {})))["pid"]
                scope.cancel()
                await trio.sleep_forever()
    assert scope.cancelled_caught
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


class GatedCall:
    """The ``gated`` tool's "waiting" log message, as an event: the call has reached
    the server, which now waits for its gate file."""

    def __init__(self) -> None:
        self.waiting = trio.Event()

    async def on_log(self, params: Any) -> None:
        if params.data == "waiting":
            self.waiting.set()


async def test_a_tcp_reset_mid_call_is_resumed_and_the_session_carries_on(
    server: execsrv.ExecServer, tmp_path: Path
) -> None:
    """The connection is reset while a tool call waits on the executor; with
    auto_resume its answer arrives after the resume, and later calls work."""
    assert server.port is not None
    gate, gated = tmp_path / "gate", GatedCall()
    results: list[str] = []
    with trio.fail_after(60):
        async with (
            open_proxy(server.port) as proxy,
            execsrv.connect(proxy.url, auto_resume=True) as client,
            execsrv.mcp.stdio_client(client, sys.executable, [SERVER]) as (read, write),
            ClientSession(read, write, logging_callback=gated.on_log) as session,
        ):
            await session.initialize()

            async def call_gated() -> None:
                results.append(text_of(await session.call_tool("gated", {"path": str(gate)})))

            async with trio.open_nursery() as calls:
                calls.start_soon(call_gated)
                await gated.waiting.wait()
                proxy.hold()
                assert proxy.sever() == 1
                proxy.release()
                await client.wait_resumed()
                gate.write_text("opened after the resume")
            assert results == ["opened after the resume"]
            assert text_of(await session.call_tool("add", {"a": 2, "b": 3})) == "5"
            assert client.resumes == 1


async def test_a_connection_lost_for_good_fails_pending_calls_at_once(
    server: execsrv.ExecServer, tmp_path: Path
) -> None:
    """Without auto_resume a reset is final: the call waiting on the executor fails
    with the SDK's "Connection closed" instead of hanging, and the session is told why."""
    assert server.port is not None
    gated = GatedCall()
    stream_errors = StreamErrors()

    with trio.fail_after(30):
        async with (
            open_proxy(server.port) as proxy,
            execsrv.connect(proxy.url) as client,
            execsrv.mcp.stdio_client(client, sys.executable, [SERVER]) as (read, write),
            ClientSession(
                read, write, logging_callback=gated.on_log, message_handler=stream_errors.on_message
            ) as session,
        ):
            await session.initialize()

            async def call_gated() -> None:
                with pytest.raises(MCP_ERROR, match="Connection closed"):
                    await session.call_tool("gated", {"path": str(tmp_path / "gate")})

            async with trio.open_nursery() as calls:
                calls.start_soon(call_gated)
                await gated.waiting.wait()
                assert proxy.sever() == 1
    [error] = stream_errors.items
    assert isinstance(error, ConnectionError)
    assert str(error).startswith("MCP server output lost: ")


FLOOD = """
import sys
line = '{"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"%s"}}\\n'
for n in range(20000):
    sys.stdout.write(line % ("x" * 200))
sys.stdout.flush()
with open(sys.argv[1], "w") as done:
    done.write("done")
sys.stdin.read()
"""


async def test_output_evicted_before_it_was_read_ends_the_stream_with_an_error(
    tmp_path: Path,
) -> None:
    """4 MiB of notifications nobody reads while retention holds 4 KiB: the messages
    held come first, then a ConnectionError naming the loss, then the end."""
    fifo = tmp_path / "done"
    os.mkfifo(fifo)
    limits = ProcessLimits(retained_output_bytes=4096, kill_grace_seconds=0.5)
    received: list[Any] = []
    with trio.fail_after(30):
        async with (
            LocalBackend.open(limits) as local,
            execsrv.mcp.stdio_client(
                local, sys.executable, ["-c", FLOOD, str(fifo)], grace_seconds=0.5
            ) as (read, _),
        ):
            async with await trio.open_file(fifo, "rb") as done:
                assert await done.read() == b"done"  # the child wrote it all
            async for item in read:
                received.append(item)
    *messages, error = received
    assert 0 < len(messages) < 20000
    methods = {getattr(item.message, "root", item.message).method for item in messages}
    assert methods == {"notifications/message"}  # 1.x wraps the message in a RootModel
    assert isinstance(error, ConnectionError)
    assert "evicted by the server's retention" in str(error)


async def test_a_server_that_cannot_start_raises_remote_error(target: Target) -> None:
    with trio.fail_after(10), pytest.raises(execsrv.RemoteError, match="No such file or directory"):
        async with execsrv.mcp.stdio_client(target, "/nonexistent/no-such-mcp-server"):
            pytest.fail("the block must not run")
