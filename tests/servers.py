"""Run real servers (execsrv or a codex binary) as subprocesses for tests.

There are two codex binaries, one per protocol generation (0.130.0 and 0.171.0),
each found through its own environment variable (the ``interop`` nox session sets
both). All servers announce their bound URL as the first line on stdout, so the same
startup, diagnostics and shutdown code serves both; tests that talk the raw
protocol (see ``tests/wire.py``) can then run unchanged against either.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Literal, NoReturn

import pytest
import trio

from execsrv.protocol.generation import Generation

ROOT = Path(__file__).resolve().parent.parent
CODEX_BIN_ENV = "EXECSRV_CODEX_BIN"
"""The codex 0.130.0 binary (``nox -s interop`` installs it)."""
CODEX_171_BIN_ENV = "EXECSRV_CODEX_171_BIN"
"""The codex 0.171.0 binary (``nox -s interop`` installs it)."""
LISTEN_ANY_PORT = "ws://127.0.0.1:0"

STARTUP_TIMEOUT = 20.0
"""Seconds a server may take to print its URL (codex is a 200 MB static binary)."""
TERMINATE_GRACE = 5.0
"""Seconds between SIGTERM and SIGKILL on shutdown."""
_STDERR_TAIL_CHARS = 4000

ServerKind = Literal["execsrv", "codex", "codex-0.171"]
"""execsrv (both generations), codex 0.130.0, codex 0.171.0."""

CODEX_KINDS: dict[Generation, tuple[ServerKind, str]] = {
    Generation.V0_130: ("codex", CODEX_BIN_ENV),
    Generation.V0_171: ("codex-0.171", CODEX_171_BIN_ENV),
}
"""The server kind of each generation's codex binary, and the variable naming it."""


class ServerStartupError(RuntimeError):
    """The server exited or stayed silent instead of printing its URL."""


@dataclass
class RunningServer:
    """A live server subprocess and the URL it is listening on."""

    url: str
    process: trio.Process
    kind: ServerKind
    _stderr_path: Path = field(repr=False)
    _extra_stdout: bytearray = field(default_factory=bytearray, repr=False)

    def stderr_text(self) -> str:
        """Everything the server has written to stderr so far (its diagnostics)."""
        try:
            return self._stderr_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def extra_stdout(self) -> bytes:
        """Stdout after the URL line; both servers promise to write nothing there."""
        return bytes(self._extra_stdout)


def codex_binary(generation: Generation = Generation.V0_130) -> str | None:
    """The generation's codex binary the interop session installed, or None outside it."""
    _, env_var = CODEX_KINDS[generation]
    return os.environ.get(env_var) or None


@asynccontextmanager
async def open_execsrv(
    *extra_args: str,
    env: Mapping[str, str] | None = None,
    wrapper: Sequence[str] = (),
    listen: str | None = LISTEN_ANY_PORT,
) -> AsyncIterator[RunningServer]:
    """Run ``python -m execsrv serve`` on an ephemeral loopback port.

    ``env`` adds to (and overrides) the inherited environment. ``listen=None``
    leaves ``--listen`` out (the environment may give it: ``EXECSRV_LISTEN``). ``wrapper`` is a
    command the server's argv is appended to, one that execs it under changed
    conditions (``setpriv ... --``). The server runs from the repository root,
    so the checkout's ``execsrv`` is importable even when the package is not
    installed.
    """
    argv = [*wrapper, sys.executable, "-m", "execsrv", "serve"]
    argv += ["--listen", listen] if listen is not None else []
    argv += extra_args
    full_env = {**os.environ, **(env or {})}
    async with _open_server(argv, kind="execsrv", env=full_env, cwd=ROOT) as server:
        yield server


@asynccontextmanager
async def open_codex(
    *extra_args: str,
    generation: Generation = Generation.V0_130,
    env: Mapping[str, str] | None = None,
) -> AsyncIterator[RunningServer]:
    """Run ``codex exec-server`` of ``generation`` on an ephemeral loopback port, with a
    fresh CODEX_HOME unless ``env`` names one.

    ``env`` adds to (and overrides) the inherited environment.

    Skips the test, naming the variable, when that generation's binary is not
    configured (outside ``nox -s interop``).
    CODEX_HOME lives under ``.interop/`` rather than /tmp: codex refuses to set up
    its helper binaries (sandbox, apply_patch) under a temporary directory, and we
    want the behaviour of a normal installation.
    """
    kind, env_var = CODEX_KINDS[generation]
    binary = codex_binary(generation)
    if binary is None:
        pytest.skip(f"{env_var} not set: no codex {generation.value} binary (run: nox -s interop)")
    fresh_home: str | None = None
    if "CODEX_HOME" not in (env or {}):
        homes = ROOT / ".interop" / "codex-homes"
        homes.mkdir(parents=True, exist_ok=True)
        fresh_home = tempfile.mkdtemp(prefix="home-", dir=homes)
    try:
        argv = [binary, "exec-server", "--listen", LISTEN_ANY_PORT, *extra_args]
        full_env = {**os.environ, **(env or {})}
        if fresh_home is not None:
            full_env["CODEX_HOME"] = fresh_home
        async with _open_server(argv, kind=kind, env=full_env, cwd=ROOT) as server:
            yield server
    finally:
        if fresh_home is not None:
            shutil.rmtree(fresh_home, ignore_errors=True)


@asynccontextmanager
async def _open_server(
    argv: list[str], *, kind: ServerKind, env: Mapping[str, str], cwd: Path
) -> AsyncIterator[RunningServer]:
    """Spawn a server, wait for its URL line, and always kill and reap it afterwards."""
    stderr_fd, stderr_name = tempfile.mkstemp(prefix=f"{kind}-stderr-", suffix=".log")
    stderr_path = Path(stderr_name)
    # A file, not a pipe: nobody has to drain it, and it survives for the error message.
    try:
        with os.fdopen(stderr_fd, "wb") as stderr_file:
            process = await _spawn(argv, env=env, cwd=cwd, stderr=stderr_file)
    except BaseException:
        with trio.CancelScope(shield=True):
            await trio.Path(stderr_path).unlink(missing_ok=True)
        raise
    try:
        assert process.stdout is not None
        url, rest = await _read_url_line(process, stderr_path, argv)
        server = RunningServer(url, process, kind, stderr_path, bytearray(rest))
        body_error: BaseException | None = None
        try:
            async with trio.open_nursery() as nursery:
                # Keep stdout drained so a chatty server can never block on a full pipe.
                nursery.start_soon(_drain, process.stdout, server._extra_stdout)
                try:
                    yield server
                except BaseException as exc:
                    body_error = exc
                    raise
                finally:
                    nursery.cancel_scope.cancel()
        except BaseExceptionGroup as group:
            # The drain task never raises, so the group only wraps the caller's own
            # exception: hand it back unwrapped, so `pytest.raises` around us works.
            if body_error is not None and group.exceptions == (body_error,):
                _reraise(body_error)
            raise
    finally:
        with trio.CancelScope(shield=True):
            await _stop(process)
            await trio.Path(stderr_path).unlink(missing_ok=True)


def _reraise(exc: BaseException) -> NoReturn:
    """Raise ``exc`` again without chaining the exception group we took it from."""
    context = exc.__context__
    try:
        raise exc
    finally:
        exc.__context__ = context
        del exc, context


async def _spawn(
    argv: list[str], *, env: Mapping[str, str], cwd: Path, stderr: IO[bytes]
) -> trio.Process:
    return await trio.lowlevel.open_process(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=stderr,
        env=dict(env),
        cwd=cwd,
    )


async def _read_url_line(
    process: trio.Process, stderr_path: Path, argv: list[str]
) -> tuple[str, bytes]:
    """Return the first stdout line and whatever followed it in the same reads."""
    assert process.stdout is not None
    buffer = bytearray()
    try:
        with trio.fail_after(STARTUP_TIMEOUT):
            while b"\n" not in buffer:
                chunk = await process.stdout.receive_some()
                if not chunk:
                    await process.wait()
                    raise ServerStartupError(
                        f"{argv[0]} exited with status {process.returncode} before printing"
                        f" its URL\ncommand: {argv}\n{_stderr_tail(stderr_path)}"
                    )
                buffer += chunk
    except trio.TooSlowError:
        raise ServerStartupError(
            f"no URL on stdout within {STARTUP_TIMEOUT:g} s\ncommand: {argv}\n"
            f"stdout so far: {bytes(buffer)!r}\n{_stderr_tail(stderr_path)}"
        ) from None
    line, _, rest = bytes(buffer).partition(b"\n")
    url = line.decode(errors="replace").strip()
    if not url.startswith("ws://"):
        raise ServerStartupError(
            f"first stdout line is not a ws:// URL: {line!r}\ncommand: {argv}\n"
            f"{_stderr_tail(stderr_path)}"
        )
    return url, rest


async def _drain(stream: trio.abc.ReceiveStream, sink: bytearray) -> None:
    try:
        while chunk := await stream.receive_some():
            sink += chunk
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        pass


async def _stop(process: trio.Process) -> None:
    """SIGTERM, a grace period, then SIGKILL; the process is reaped in every case."""
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)
        with trio.move_on_after(TERMINATE_GRACE):
            await process.wait()
    if process.returncode is None:
        process.kill()
        await process.wait()
    if process.stdout is not None:
        await process.stdout.aclose()


def _stderr_tail(stderr_path: Path) -> str:
    try:
        text = stderr_path.read_text(errors="replace")
    except FileNotFoundError:
        text = ""
    if not text:
        return "stderr: (empty)"
    if len(text) > _STDERR_TAIL_CHARS:
        text = "…" + text[-_STDERR_TAIL_CHARS:]
    return f"stderr:\n{text}"
