"""``serve --drain-timeout`` on a real server process: SIGTERM drains, a second signal
cuts at once, and the exit status and log say what was cut."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
import trio

import execsrv

from ..conftest import CHILD_ENV
from ..servers import RunningServer, open_execsrv
from .support import get, until_status

EXIT_WITHIN = 10.0
"""Seconds a server may take to exit once its drain and grace allow."""


async def exit_status(server: RunningServer, *, within: float = EXIT_WITHIN) -> int:
    with trio.fail_after(within):
        return await server.process.wait()


async def test_sigterm_drains_attached_and_detached_work_then_exits_0(tmp_path: Path) -> None:
    release = tmp_path / "release"
    marker = tmp_path / "detached-done"
    async with open_execsrv("--drain-timeout", "30", "--kill-grace", "0.5") as server:
        # A detached session whose process waits for the file `release`.
        async with execsrv.connect(server.url) as detached:
            waiter = f"while [ ! -e {release} ]; do sleep 0.05; done; echo done > {marker}"
            await detached.start_process(["sh", "-c", waiter], env=CHILD_ENV)
        async with execsrv.connect(server.url) as client:
            process = await client.start_process(
                ["sh", "-c", "read line; echo finished $line"], pipe_stdin=True, env=CHILD_ENV
            )
            server.process.send_signal(signal.SIGTERM)
            answer = await until_status(server.url, "/readyz", 503)
            assert answer.body == b"draining\n"
            assert (await get(server.url, "/healthz")).status == 200
            with pytest.raises(execsrv.RemoteError) as refused:
                async with execsrv.connect(server.url):
                    pass
            assert (refused.value.code, refused.value.message) == (
                -32600,
                "server is draining: new sessions are refused",
            )
            with pytest.raises(execsrv.RemoteError, match="new processes are refused"):
                await client.start_process(["true"], env=CHILD_ENV)
            # The detached session can still be resumed during the drain.
            async with execsrv.connect(server.url, resume_session_id=detached.session_id) as again:
                (info,) = await again.list_processes()
                assert info.running
            assert server.process.returncode is None
            await process.write(b"now\n")
            result = await process.communicate()
            assert (result.exit_code, bytes(result.stdout)) == (0, b"finished now\n")
            assert server.process.returncode is None  # the detached process still runs
            release.touch()
            status = await exit_status(server)
        stderr = server.stderr_text()
    assert status == 0, stderr
    assert marker.read_text() == "done\n"
    assert "drain complete: no process running" in stderr
    assert "Traceback" not in stderr


async def test_a_drain_that_outlasts_its_timeout_cuts_and_exits_3() -> None:
    async with open_execsrv("--drain-timeout", "0.5", "--kill-grace", "0.5") as server:
        async with execsrv.connect(server.url) as client:
            process = await client.start_process(
                ["sh", "-c", "echo $$; exec sleep 300"], env=CHILD_ENV
            )
            with trio.fail_after(10):
                first = await anext(aiter(process.events))
            assert isinstance(first, execsrv.Output)
            child = trio.Path(f"/proc/{int(first.data)}")
            assert await child.exists()
            server.process.send_signal(signal.SIGTERM)
            status = await exit_status(server)
        stderr = server.stderr_text()
    assert status == 3, stderr
    assert "drain ended with processes running: they are cut" in stderr
    assert "cut=1" in stderr
    assert "exiting with status 3" in stderr
    assert not await child.exists()


async def test_a_second_signal_during_the_drain_cuts_at_once() -> None:
    async with open_execsrv("--drain-timeout", "60", "--kill-grace", "0.5") as server:
        async with execsrv.connect(server.url) as client:
            await client.start_process(["sleep", "300"], env=CHILD_ENV)
            server.process.send_signal(signal.SIGTERM)
            await until_status(server.url, "/readyz", 503)
            server.process.send_signal(signal.SIGINT)
            status = await exit_status(server, within=5.0)  # far from the 60 s drain
        stderr = server.stderr_text()
    assert status == 3, stderr
    assert "SIGINT again: shutting down now" in stderr
    assert "KeyboardInterrupt" not in stderr
