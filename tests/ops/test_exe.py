"""The single-file executable (issue 13, point 6), run where no Python is on PATH.

``python -m nox -s exe`` builds it (PyInstaller, onefile) and runs this file with
``EXECSRV_EXE`` naming the built file; without that variable every test here
skips. The executable runs with an exact environment whose ``PATH`` is an empty
directory, so nothing it does can fall back on an installed Python: its helper
starts (the sandbox launcher, the death watch, ``doctor``'s probes) re-execute
the executable itself (:mod:`execsrv.frozen`).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import struct
import subprocess
import urllib.request
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

import pytest
import trio

import execsrv
from execsrv.events import Output
from execsrv.sandbox import landlock_abi

from ..conformance.support import events_until_closed, exit_code_of, output_of
from ..sandbox.test_command_sandbox import confined
from ..servers import LISTEN_ANY_PORT, RunningServer, _open_server
from ..wire import open_wire

EXE_ENV: Final = "EXECSRV_EXE"
EXE: Final = os.environ.get(EXE_ENV, "")
WAIT: Final = 30

pytestmark = pytest.mark.skipif(not EXE, reason=f"{EXE_ENV} not set (run: python -m nox -s exe)")

SHELL_ENV: Final = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
"""The environment of the commands the tests run through the executable."""


@pytest.fixture
def no_python_env(tmp_path: Path) -> dict[str, str]:
    """An exact environment whose PATH is an empty directory (and whose TMPDIR, where
    the executable unpacks itself, is removed after the test: a killed one leaves it)."""
    empty = tmp_path / "bin"
    empty.mkdir()
    assert shutil.which("python3", path=str(empty)) is None
    return {"PATH": str(empty), "HOME": str(tmp_path), "TMPDIR": str(tmp_path)}


@pytest.fixture
async def exe_server(no_python_env: dict[str, str]) -> AsyncIterator[RunningServer]:
    argv = [EXE, "serve", "--listen", LISTEN_ANY_PORT]
    async with _open_server(argv, kind="execsrv", env=no_python_env, cwd=Path("/")) as server:
        yield server


@pytest.fixture
def workspace() -> Iterator[Path]:
    """A project with a ``.git`` under /var/tmp (not a writable root), and a sibling."""
    base = Path(os.path.realpath("/var/tmp")) / f"execsrv-exe-{os.getpid()}-{id(object())}"
    (base / "project" / ".git").mkdir(parents=True)
    (base / "outside").mkdir()
    yield base / "project"
    shutil.rmtree(base)


async def test_serve_prints_its_url_and_runs_a_process(exe_server: RunningServer) -> None:
    with trio.fail_after(WAIT):
        async with execsrv.connect(exe_server.url) as client:
            process = await client.start_process(
                ["/bin/sh", "-c", "echo out; echo err >&2; exit 3"], env=SHELL_ENV
            )
            result = await process.communicate()
    assert (bytes(result.stdout), bytes(result.stderr), result.exit_code) == (
        b"out\n",
        b"err\n",
        3,
    )
    assert exe_server.extra_stdout() == b""


async def test_the_probes_answer(exe_server: RunningServer) -> None:
    port = urlsplit(exe_server.url).port
    for path in ("/readyz", "/healthz"):
        url = f"http://127.0.0.1:{port}{path}"
        with trio.fail_after(WAIT):
            status = await trio.to_thread.run_sync(_http_status, url)
        assert status == 200, path


def _http_status(url: str) -> int:
    with urllib.request.urlopen(url, timeout=WAIT) as response:
        status: int = response.status
        return status


@pytest.mark.skipif(landlock_abi() < 1, reason="the kernel has no Landlock")
async def test_a_sandboxed_start_runs_confined_through_the_executable(
    exe_server: RunningServer, workspace: Path
) -> None:
    """The launcher is the executable re-executed: the command runs, confined."""
    outside = workspace.parent / "outside"
    script = f"echo in > inside.txt; echo o > {outside}/o; echo ran"
    with trio.fail_after(WAIT):
        async with open_wire(exe_server.url) as wire:
            await wire.handshake()
            response = await wire.request("process/start", confined("s", script, workspace))
            assert response.get("result", {}).get("sandboxType") == "linuxSeccomp", response
            events = await events_until_closed(wire, "s")
    assert output_of(events, "stdout") == b"ran\n"
    assert b"Read-only file system" in output_of(events, "stderr")
    assert exit_code_of(events) == 0
    assert (workspace / "inside.txt").read_bytes() == b"in\n"
    assert list(outside.iterdir()) == []


@pytest.mark.skipif(landlock_abi() < 1, reason="the kernel has no Landlock")
def test_doctor_proves_a_confined_start(no_python_env: dict[str, str]) -> None:
    result = subprocess.run(
        [EXE, "doctor", "--json"], env=no_python_env, capture_output=True, timeout=WAIT
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert b'"ok": true' in result.stdout


async def test_sigkill_of_the_executable_ends_the_server_and_its_children(
    no_python_env: dict[str, str], tmp_path: Path
) -> None:
    """The onefile executable is a bootloader whose child is the server: killing the
    pid the orchestrator knows ends both, and the death watch kills the children."""
    marker = tmp_path / "child-pid"
    argv = [EXE, "serve", "--listen", LISTEN_ANY_PORT]
    async with _open_server(argv, kind="execsrv", env=no_python_env, cwd=Path("/")) as server:
        with trio.fail_after(WAIT):
            async with execsrv.connect(server.url) as client:
                process = await client.start_process(
                    ["/bin/sh", "-c", f"echo $$ > {marker}; echo up; exec sleep 600"],
                    env=SHELL_ENV,
                )
                async for event in process.events:
                    if isinstance(event, Output):
                        break
                child = os.pidfd_open(int(marker.read_text()))
                try:
                    server.process.send_signal(signal.SIGKILL)
                    await server.process.wait()
                    await trio.lowlevel.wait_readable(child)  # readable once it has ended
                finally:
                    os.close(child)


async def test_serve_notifies_systemd_from_the_child_of_the_pid_it_was_started_as(
    no_python_env: dict[str, str], tmp_path: Path
) -> None:
    """``READY=1`` arrives, sent by the server (the unpacker's child), not by the
    unpacker systemd knows as the main pid: the README asks for ``NotifyAccess=all``."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as raw:
        raw.bind(str(tmp_path / "notify"))
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        manager = trio.socket.from_stdlib_socket(raw)
        env = {**no_python_env, "NOTIFY_SOCKET": str(tmp_path / "notify")}
        argv = [EXE, "serve", "--listen", LISTEN_ANY_PORT]
        async with _open_server(argv, kind="execsrv", env=env, cwd=Path("/")) as server:
            with trio.fail_after(WAIT):
                data, ancillary, _, _ = await manager.recvmsg(64, socket.CMSG_SPACE(12))
            (sender,) = [
                struct.unpack("3i", payload)[0]
                for level, kind, payload in ancillary
                if (level, kind) == (socket.SOL_SOCKET, socket.SCM_CREDENTIALS)
            ]
            assert data == b"READY=1"
            assert sender != server.process.pid
            executable = str(await trio.Path(EXE).resolve())
            assert await trio.Path(f"/proc/{sender}/exe").readlink() == trio.Path(executable)


def test_help_runs_without_python(no_python_env: dict[str, str]) -> None:
    result = subprocess.run([EXE, "--help"], env=no_python_env, capture_output=True, timeout=WAIT)
    assert result.returncode == 0
    assert b"serve" in result.stdout


async def test_sigterm_to_the_executable_reaches_the_server(
    no_python_env: dict[str, str],
) -> None:
    """The bootloader forwards SIGTERM: the server shuts down gracefully, status 0."""
    argv = [EXE, "serve", "--listen", LISTEN_ANY_PORT]
    async with _open_server(argv, kind="execsrv", env=no_python_env, cwd=Path("/")) as server:
        server.process.send_signal(signal.SIGTERM)
        with trio.fail_after(WAIT):
            status = await server.process.wait()
        assert status == 0
        assert "SIGTERM received" in server.stderr_text()
