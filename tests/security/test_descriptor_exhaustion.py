"""Descriptor exhaustion: peers that hold or churn connections cannot lock clients out.

The server runs as a subprocess with a low ``RLIMIT_NOFILE`` (set by a small
wrapper that execs ``python -m execsrv serve``), so the limits are its own and
not the test runner's.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import trio

from execsrv import ServerConfig
from execsrv.cli import build_parser
from execsrv.server.security import FD_RESERVE, ConnectionLimits
from execsrv.server.server import ACCEPT_RETRY_SECONDS

from ..conftest import CHILD_ENV
from ..servers import LISTEN_ANY_PORT, ROOT, RunningServer, _open_server
from ..wire import open_wire
from .support import port_of, status_of, upgrade, upgrade_request

SET_LIMIT_AND_EXEC = (
    "import os, resource, sys; "
    "resource.setrlimit(resource.RLIMIT_NOFILE, (int(sys.argv[1]), int(sys.argv[2]))); "
    "os.execv(sys.executable, [sys.executable, '-m', 'execsrv', *sys.argv[3:]])"
)


@asynccontextmanager
async def server_with_fd_limit(soft: int, hard: int, *args: str) -> AsyncIterator[RunningServer]:
    """``python -m execsrv serve`` with ``RLIMIT_NOFILE`` set to (soft, hard) at exec."""
    argv = [sys.executable, "-c", SET_LIMIT_AND_EXEC, str(soft), str(hard)]
    argv += ["serve", "--listen", LISTEN_ANY_PORT, *args]
    async with _open_server(argv, kind="execsrv", env=dict(os.environ), cwd=ROOT) as server:
        yield server


def open_files_limit(pid: int) -> tuple[int, int]:
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max open files"):
            soft, hard = line.split()[3:5]
            return int(soft), int(hard)
    raise AssertionError("no `Max open files` in /proc/PID/limits")


async def wait_for_log(server: RunningServer, text: str) -> None:
    """Poll the server's stderr (another process: there is no event to wait on)."""
    while text not in server.stderr_text():  # noqa: ASYNC110
        await trio.sleep(0.02)


@pytest.mark.parametrize(
    ("fd_limit", "connections", "pending"),
    [
        pytest.param(None, 1024, 128, id="unlimited"),
        pytest.param(1 << 20, 1024, 128, id="plenty"),
        pytest.param(1024, 1024 - FD_RESERVE - 128, 128, id="1024"),
        pytest.param(128, 48, 16, id="128"),
        pytest.param(FD_RESERVE, 1, 1, id="only-the-reserve"),
    ],
)
def test_connection_limits_leave_the_reserve_free(
    fd_limit: int | None, connections: int, pending: int
) -> None:
    limits = ConnectionLimits.fit(ServerConfig(), fd_limit)
    assert (limits.max_connections, limits.max_pending_handshakes) == (connections, pending)


def test_the_handshake_timeout_must_be_positive(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["serve", "--handshake-timeout", "0"])
    assert "--handshake-timeout: must be positive" in capsys.readouterr().err


async def test_idle_peers_far_beyond_the_fd_limit_do_not_keep_a_client_out() -> None:
    async with server_with_fd_limit(64, 128, "--handshake-timeout", "60") as server:
        # The soft limit is raised to the hard one, and the limits fit in it.
        assert open_files_limit(server.process.pid) == (128, 128)
        with trio.fail_after(20):
            await wait_for_log(server, "file descriptor limit too low")
            assert "max_pending_handshakes=16" in server.stderr_text()
            idle = [
                await trio.open_tcp_stream("127.0.0.1", port_of(server.url)) for _ in range(300)
            ]
            try:
                # Held open, 300 silent peers: a client still gets through, promptly.
                async with open_wire(server.url) as wire:
                    await wire.handshake()
                    assert (await wire.request("process/list", {}))["result"] == {"processes": []}
            finally:
                for stream in idle:
                    await stream.aclose()
            assert (await upgrade(server.url)).status == 101
        log = server.stderr_text()
    assert log.count("pending handshakes at the limit") == 1, log
    assert "cannot accept connections" not in log
    assert "Traceback" not in log


async def test_hit_and_run_connects_beyond_the_fd_limit_do_not_keep_a_client_out() -> None:
    async with server_with_fd_limit(128, 128, "--handshake-timeout", "60") as server:
        port = port_of(server.url)
        with trio.fail_after(30):
            for _ in range(1100):
                stream = await trio.open_tcp_stream("127.0.0.1", port)
                await stream.aclose()
            assert (await upgrade(server.url)).status == 101
        log = server.stderr_text()
    assert "cannot accept connections" not in log
    assert "Traceback" not in log


async def hold_websocket(port: int, served: trio.Event) -> None:
    """Open a websocket by hand, set ``served`` at its 101, and hold it until cancelled."""
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    async with stream:
        await stream.send_all(upgrade_request(port))
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = await stream.receive_some()
            assert chunk, head
            head += chunk
        assert status_of(head) == 101, head
        served.set()
        await trio.sleep_forever()


async def test_out_of_descriptors_the_server_waits_logs_once_and_serves_once_freed() -> None:
    async with server_with_fd_limit(128, 128) as server:
        port = port_of(server.url)
        with trio.fail_after(30):
            async with open_wire(server.url) as owner, trio.open_nursery() as holders:
                await owner.handshake()
                # Children's pipes use up the descriptors the reserve keeps...
                started: list[str] = []
                while "error" not in (
                    reply := await owner.request(
                        "process/start",
                        {
                            "processId": f"p{len(started)}",
                            "argv": ["sleep", "60"],
                            "cwd": "/",
                            "env": CHILD_ENV,
                            "tty": False,
                            "pipeStdin": True,
                        },
                    )
                ):
                    started.append(f"p{len(started)}")
                assert len(started) > 10, reply
                # ... and websockets the last few, one at a time, until one is not
                # accepted: that client alone waits in the listen queue.
                for _ in range(20):
                    served = trio.Event()
                    holders.start_soon(hold_websocket, port, served)
                    while not served.is_set() and "cannot accept" not in server.stderr_text():  # noqa: ASYNC110 (another process)
                        await trio.sleep(0.02)
                    if not served.is_set():
                        break
                else:
                    raise AssertionError("the server never ran out of descriptors")
                # A child's exit now makes the subreaper list its children, which
                # takes a descriptor: it must wait for one, not end the server.
                server.process.send_signal(signal.SIGCHLD)
                # Out of descriptors across several accept retries, logged once.
                await trio.sleep(10 * ACCEPT_RETRY_SECONDS)
                assert server.process.returncode is None
                assert not served.is_set()
                assert server.stderr_text().count("cannot accept connections") == 1
                for process_id in started:
                    reply = await owner.request("process/terminate", {"processId": process_id})
                    assert "result" in reply, reply
                # The waiting client is served as soon as descriptors are free.
                with trio.fail_after(5):
                    await served.wait()
                holders.cancel_scope.cancel()
        log = server.stderr_text()
    assert log.count("cannot accept connections") == 1, log
    assert log.count("accepting connections again") == 1, log
    failed_accepts = int(log.split("failed_accepts=")[1].split()[0])
    assert failed_accepts >= 3, log
    assert "Traceback" not in log
