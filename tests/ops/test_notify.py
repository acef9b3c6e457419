"""``serve`` under systemd ``Type=notify`` (issue 13, point 7): ``READY=1`` once bound,
``STOPPING=1`` at the first signal, over a real ``AF_UNIX`` datagram socket, from a
real ``python -m execsrv serve``."""

from __future__ import annotations

import logging
import os
import signal
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import trio

import execsrv
from execsrv.protocol import process as p
from execsrv.server.notify import NOTIFY_SOCKET_ENV, ServiceNotifier

from ..servers import open_execsrv

WAIT = 20


@pytest.fixture(params=["path", "abstract"])
def manager(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, socket.socket]]:
    """What systemd would hold: a bound datagram socket, and its ``$NOTIFY_SOCKET``."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        if request.param == "path":
            address = str(tmp_path / "notify")
            sock.bind(address)
        else:
            address = f"@execsrv-test-notify-{os.getpid()}-{tmp_path.name}"
            sock.bind("\0" + address[1:])
        yield address, sock


async def test_serve_reports_ready_once_bound_and_stopping_at_sigterm(
    manager: tuple[str, socket.socket],
) -> None:
    address, raw = manager
    sock = trio.socket.from_stdlib_socket(raw)
    async with open_execsrv(env={NOTIFY_SOCKET_ENV: address}) as server:
        with trio.fail_after(WAIT):
            assert await sock.recv(4096) == b"READY=1"
            # Bound when it said so: a client gets in at once.
            async with execsrv.connect(server.url) as client:
                environment = await client.start_process(
                    ["/usr/bin/env"],
                    env_policy=p.EnvPolicy(
                        inherit="all",
                        ignore_default_excludes=True,
                        exclude=[],
                        set={},
                        include_only=[],
                    ),
                )
                result = await environment.communicate()
            server.process.send_signal(signal.SIGTERM)
            assert await sock.recv(4096) == b"STOPPING=1"
            assert await server.process.wait() == 0
    # Commands that inherit the server's environment cannot speak for it.
    assert result.exit_code == 0
    assert b"PATH=" in result.stdout
    assert NOTIFY_SOCKET_ENV.encode() not in result.stdout


def test_without_a_manager_nothing_is_sent() -> None:
    environ: dict[str, str] = {}
    assert not ServiceNotifier.from_environment(environ).send("READY=1")


def test_the_address_is_taken_out_of_the_environment() -> None:
    environ = {NOTIFY_SOCKET_ENV: "@x", "PATH": "/bin"}
    assert ServiceNotifier.from_environment(environ).address == "@x"
    assert environ == {"PATH": "/bin"}


@pytest.mark.parametrize("address", ["vsock:2:1234", "relative/socket"])
def test_an_unsupported_address_is_logged_not_raised(
    address: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="execsrv.server"):
        assert not ServiceNotifier(address).send("READY=1")
    assert "unsupported address" in caplog.text


def test_a_socket_no_one_listens_on_is_logged_not_raised(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="execsrv.server"):
        assert not ServiceNotifier(str(tmp_path / "gone")).send("READY=1")
    assert "cannot notify READY=1" in caplog.text
