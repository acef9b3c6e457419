"""MCP streamable HTTP through the executor: the SDK's own ``streamable_http_client``
with an ``httpx`` (mcp 1.x) or ``httpx2`` (mcp 2.x) client whose transport sends every
request with ``http/request`` from a real ``execsrv serve`` subprocess, to a real
SDK-built streamable-HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import trio

pytest.importorskip("mcp")

from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

import execsrv

from ..servers import open_execsrv

SERVER = str(Path(__file__).with_name("server.py"))

# The SDK leaves its SSE iterators to the garbage collector, which trio reports
# (asyncio finalizes them quietly); the SDK with its stock transport does the same.
pytestmark = [
    pytest.mark.filterwarnings("ignore:Async generator .* was garbage collected:ResourceWarning"),
    pytest.mark.filterwarnings(
        "ignore:Exception ignored in. <async_generator object:"
        "pytest.PytestUnraisableExceptionWarning"
    ),
]

try:  # mcp 2.x speaks httpx2
    import httpx2 as http_library

    import execsrv.httpx2 as execsrv_http
except ImportError:  # mcp 1.x: httpx
    import httpx as http_library  # type: ignore[no-redef]

    import execsrv.httpx as execsrv_http  # type: ignore[no-redef]


@asynccontextmanager
async def http_mcp_server() -> AsyncIterator[str]:
    """The test server's streamable-HTTP endpoint URL, the server stopped afterwards."""
    async with trio.open_nursery() as nursery:
        process: trio.Process = await nursery.start(
            partial(trio.run_process, [sys.executable, SERVER, "http"], stdout=-1, check=False)
        )
        assert process.stdout is not None
        head = b""
        with trio.fail_after(30):
            while b"\n" not in head:
                chunk = await process.stdout.receive_some()
                assert chunk, "the MCP server exited before it listened"
                head += chunk
        port = int(head.split()[1])
        try:
            yield f"http://127.0.0.1:{port}/mcp"
        finally:
            process.send_signal(signal.SIGTERM)


async def test_tools_over_streamable_http_made_from_the_executor() -> None:
    seen: list[str] = []

    async def on_log(params: Any) -> None:
        seen.append(str(params.data))

    with trio.fail_after(60):
        async with (
            http_mcp_server() as url,
            open_execsrv() as server,
            execsrv.connect(server.url, client_name="pytest-mcp-http") as client,
            http_library.AsyncClient(transport=execsrv_http.transport(client)) as http,
            streamable_http_client(url, http_client=http) as streams,
            ClientSession(streams[0], streams[1], logging_callback=on_log) as session,
        ):
            await session.initialize()
            names = {tool.name for tool in (await session.list_tools()).tools}
            assert {"add", "whoami", "chatty"} <= names
            result = await session.call_tool("add", {"a": 20, "b": 22})
            assert result.content[0].text == "42"
            result = await session.call_tool("chatty", {"count": 5})  # SSE-streamed answer
            assert result.content[0].text == "done"
            result = await session.call_tool("big", {"size": 256 << 10})
            assert len(result.content[0].text) == 256 << 10  # the SDK caps an SSE event at 1 MiB
            where = json.loads((await session.call_tool("whoami", {})).content[0].text)
    assert seen == [f"step {n}" for n in range(5)]
    assert where["pid"] != os.getpid()
