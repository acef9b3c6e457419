"""``python -m execsrv serve``: flags, --listen errors, URL line, signals, logs (spec §1.1)."""

from __future__ import annotations

import argparse
import base64
import os
import re
import signal
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import trio

import execsrv
from execsrv.cli import build_parser

from ..conftest import CHILD_ENV
from ..servers import ROOT
from ..wire import open_wire

SERVE = [sys.executable, "-m", "execsrv", "serve"]


def _serve_flags() -> list[str]:
    """Every long option of ``serve``, from the parser itself."""
    parser = build_parser()
    (commands,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    serve_parser = commands.choices["serve"]
    return [
        option
        for action in serve_parser._actions
        for option in action.option_strings
        if option.startswith("--") and option != "--help"
    ]


def test_help_mentions_every_flag() -> None:
    flags = _serve_flags()
    assert {"--listen", "--session-ttl", "--retention-bytes", "--log-level"} <= set(flags)
    assert "--max-message-bytes" in flags
    result = subprocess.run(
        [*SERVE, "--help"], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    for flag in flags:
        assert flag in result.stdout, flag
    assert "ws://127.0.0.1:0" in result.stdout  # the default is documented
    assert "stdio" in result.stdout


@pytest.mark.parametrize(
    ("listen", "message"),
    [
        (
            "ws://localhost:1",
            "invalid websocket --listen URL `ws://localhost:1`; expected `ws://IP:PORT`",
        ),
        (
            "ws://127.0.0.1",
            "invalid websocket --listen URL `ws://127.0.0.1`; expected `ws://IP:PORT`",
        ),
        (
            "ws://127.0.0.1:",
            "invalid websocket --listen URL `ws://127.0.0.1:`; expected `ws://IP:PORT`",
        ),
        (
            "ws://127.0.0.1:99999",
            "invalid websocket --listen URL `ws://127.0.0.1:99999`; expected `ws://IP:PORT`",
        ),
        ("http://x", "unsupported --listen URL `http://x`; expected `ws://IP:PORT` or `stdio`"),
        (
            "wss://127.0.0.1:1",
            "unsupported --listen URL `wss://127.0.0.1:1`; expected `ws://IP:PORT` or `stdio`",
        ),
    ],
)
def test_bad_listen_values_exit_nonzero_with_the_reference_wording(
    listen: str, message: str
) -> None:
    result = subprocess.run(
        [*SERVE, "--listen", listen],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize("listen", ["ws://[::1]:0", "stdio://"])
def test_other_listen_forms_parse(listen: str) -> None:
    assert build_parser().parse_args(["serve", "--listen", listen]).listen == listen


@dataclass
class Served:
    process: trio.Process
    url: str
    stderr_path: Path
    stdout_rest: bytearray

    async def stop(self, signum: int) -> tuple[int, bytes, str]:
        """Send ``signum``, wait for the exit; return status, remaining stdout, stderr."""
        assert self.process.stdout is not None
        self.process.send_signal(signum)
        with trio.fail_after(15):
            while chunk := await self.process.stdout.receive_some():
                self.stdout_rest += chunk
            status = await self.process.wait()
        return status, bytes(self.stdout_rest), self.stderr_path.read_text(errors="replace")


@asynccontextmanager
async def serve(*args: str) -> AsyncIterator[Served]:
    fd, name = tempfile.mkstemp(prefix="execsrv-cli-", suffix=".log")
    path = Path(name)
    try:
        with os.fdopen(fd, "wb") as stderr:
            process = await trio.lowlevel.open_process(
                [*SERVE, *args],
                stdout=subprocess.PIPE,
                stderr=stderr,
                stdin=subprocess.DEVNULL,
                cwd=ROOT,
            )
        try:
            assert process.stdout is not None
            buffer = bytearray()
            with trio.fail_after(20):
                while b"\n" not in buffer:
                    chunk = await process.stdout.receive_some()
                    if not chunk:
                        stderr_text = await trio.Path(path).read_text()
                        raise AssertionError(f"server exited early: {stderr_text}")
                    buffer += chunk
            line, _, rest = bytes(buffer).partition(b"\n")
            yield Served(process, line.decode(), path, bytearray(rest))
        finally:
            with trio.CancelScope(shield=True):
                if process.returncode is None:
                    process.kill()
                await process.wait()
                if process.stdout is not None:
                    await process.stdout.aclose()
    finally:
        with trio.CancelScope(shield=True):
            await trio.Path(path).unlink(missing_ok=True)


async def test_default_listen_is_loopback_with_an_ephemeral_port() -> None:
    async with serve() as served:
        match = re.fullmatch(r"ws://127\.0\.0\.1:(\d+)", served.url)
        assert match, served.url
        assert int(match.group(1)) > 0
        async with open_wire(served.url) as wire:
            await wire.handshake()
        status, _rest, stderr = await served.stop(signal.SIGTERM)
        assert status == 0, stderr


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
async def test_signal_stops_the_server_cleanly_and_kills_children(signum: int) -> None:
    async with serve("--listen", "ws://127.0.0.1:0", "--kill-grace", "0.5") as served:
        async with open_wire(served.url) as wire:
            await wire.handshake()
            with trio.fail_after(10):
                reply = await wire.request(
                    "process/start",
                    {
                        "processId": "s",
                        "argv": ["sh", "-c", "echo $$; exec sleep 300"],
                        "cwd": "/",
                        "env": CHILD_ENV,
                        "tty": False,
                    },
                )
                assert "result" in reply, reply
                output = await wire.next_notification("process/output")
            pid = int(base64.b64decode(output["params"]["chunk"]))
            child = trio.Path(f"/proc/{pid}")
            assert await child.exists()
            status, rest, stderr = await served.stop(signum)
        assert status == 0, stderr
        assert "Traceback" not in stderr
        assert "KeyboardInterrupt" not in stderr
        # stdout held the URL line and nothing else, from start to exit.
        assert rest == b""
        assert not await child.exists()


async def test_logs_show_only_a_short_session_id() -> None:
    async with serve("--log-level", "info") as served:
        async with open_wire(served.url) as wire:
            session_id = await wire.handshake()
        # A second connection resumes it, so resume logs are covered too.
        async with open_wire(served.url) as wire:
            reply = await wire.request(
                "initialize", {"clientName": "again", "resumeSessionId": session_id}
            )
            assert reply["result"]["sessionId"] == session_id
        status, rest, stderr = await served.stop(signal.SIGTERM)
    assert status == 0
    assert rest == b""
    created = [line for line in stderr.splitlines() if "session created" in line]
    assert created, stderr
    assert f"session={session_id[:8]}" in created[0]
    assert session_id not in stderr
    assert session_id[:9] not in stderr


def test_version_is_exposed() -> None:
    assert isinstance(execsrv.__version__, str)
