"""Run ``python -m execsrv serve --listen stdio`` and speak newline-delimited JSON to it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import trio

from ..servers import ROOT

Message = dict[str, Any]


class StdioServer:
    def __init__(self, process: trio.Process, stderr_path: Path) -> None:
        self.process = process
        self.stderr_path = stderr_path
        self._buffer = bytearray()
        self.notifications: list[Message] = []
        self.raw_lines: list[bytes] = []

    async def send_raw(self, data: bytes) -> None:
        assert self.process.stdin is not None
        await self.process.stdin.send_all(data)

    async def send(self, message: Message) -> None:
        await self.send_raw(json.dumps(message).encode() + b"\n")

    async def close_stdin(self) -> None:
        assert self.process.stdin is not None
        await self.process.stdin.aclose()

    async def recv(self) -> Message:
        """The next line on stdout, decoded; EOFError at end of output."""
        assert self.process.stdout is not None
        while b"\n" not in self._buffer:
            chunk = await self.process.stdout.receive_some()
            if not chunk:
                raise EOFError(bytes(self._buffer))
            self._buffer += chunk
        line, _, rest = bytes(self._buffer).partition(b"\n")
        self._buffer[:] = rest
        self.raw_lines.append(line)
        message = json.loads(line)
        assert isinstance(message, dict)
        return message

    async def response(self, request_id: Any) -> Message:
        while True:
            message = await self.recv()
            if "method" in message and "id" not in message:
                self.notifications.append(message)
            elif message.get("id") == request_id:
                return message
            else:
                raise AssertionError(f"unexpected message: {message}")

    async def request(self, request_id: Any, method: str, params: Any) -> Message:
        await self.send({"id": request_id, "method": method, "params": params})
        return await self.response(request_id)

    async def notification(self, method: str) -> Message:
        for index, message in enumerate(self.notifications):
            if message["method"] == method:
                return self.notifications.pop(index)
        while True:
            message = await self.recv()
            if message.get("method") == method and "id" not in message:
                return message
            self.notifications.append(message)

    async def handshake(self) -> str:
        reply = await self.request(0, "initialize", {"clientName": "stdio-test"})
        await self.send({"method": "initialized", "params": {}})
        session_id = reply["result"]["sessionId"]
        assert isinstance(session_id, str)
        return session_id

    def stderr_text(self) -> str:
        return self.stderr_path.read_text(errors="replace")


@asynccontextmanager
async def open_stdio_server(*args: str) -> AsyncIterator[StdioServer]:
    """The server as a subprocess on pipes; killed and reaped on exit if still running."""
    fd, name = tempfile.mkstemp(prefix="execsrv-stdio-", suffix=".log")
    path = Path(name)
    try:
        with os.fdopen(fd, "wb") as stderr:
            process = await trio.lowlevel.open_process(
                [sys.executable, "-m", "execsrv", "serve", "--listen", "stdio", *args],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr,
                cwd=ROOT,
            )
        try:
            yield StdioServer(process, path)
        finally:
            with trio.CancelScope(shield=True):
                if process.returncode is None:
                    process.kill()
                await process.wait()
                for stream in (process.stdin, process.stdout):
                    if stream is not None:
                        await stream.aclose()
    finally:
        with trio.CancelScope(shield=True):
            await trio.Path(path).unlink(missing_ok=True)
