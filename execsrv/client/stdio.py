"""The stdio client transport: spawn the server command, speak NDJSON on its pipes.

As the reference's ``StdioExecServerCommand`` (spec §11): the command runs
directly from argv (no shell) in its own process group, with stdin and stdout
piped for the protocol and stderr drained into a bounded tail. The child is
tied to the client: leaving :func:`connect_stdio` closes its stdin, sends
SIGTERM to its process group, waits :data:`STDIO_TERMINATION_GRACE_SECONDS`,
then SIGKILLs the group. A child that dies early ends the client with
:class:`~.errors.Disconnected`, whose reason gives its exit status and the tail
of its stderr.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
from collections import deque
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Final

import trio

from ..logs import clip
from ..protocol.framing import MessageTooLarge
from ..transport import LineTransport, TransportClosed
from ..transport.base import EncodedMessage
from .client import MAX_INBOUND_MESSAGE, Client, running_client
from .errors import Disconnected
from .unwrap import unwrap_exception_groups

__all__ = ["STDERR_TAIL_BYTES", "STDIO_TERMINATION_GRACE_SECONDS", "connect_stdio"]

log = logging.getLogger("execsrv.client")

STDIO_TERMINATION_GRACE_SECONDS: Final = 2.0
"""SIGTERM → SIGKILL grace for the server command's process group (as the reference)."""

STDERR_TAIL_BYTES: Final = 4096
"""How much of the server command's stderr is kept for error messages."""

EXIT_REPORT_SECONDS: Final = 1.0
"""After its stdout ends, how long to wait for the command's exit status (for the reason)."""


class _StderrTail:
    """Drains a stream, keeping its last :data:`STDERR_TAIL_BYTES` bytes."""

    def __init__(self, limit: int = STDERR_TAIL_BYTES) -> None:
        self._chunks: deque[bytes] = deque()
        self._size = 0
        self._limit = limit
        self.done = trio.Event()

    async def drain(self, stream: trio.abc.ReceiveStream) -> None:
        try:
            while data := await stream.receive_some():
                log.debug("exec-server stderr: %s", clip(data))
                self._chunks.append(bytes(data))
                self._size += len(data)
                while self._size - len(self._chunks[0]) >= self._limit:
                    self._size -= len(self._chunks.popleft())
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass
        finally:
            self.done.set()

    def text(self) -> str:
        data = b"".join(self._chunks)[-self._limit :]
        return data.decode("utf-8", "replace").strip()


def _exit_status(returncode: int) -> str:
    if returncode >= 0:
        return f"exited with code {returncode}"
    try:
        name = signal.Signals(-returncode).name
    except ValueError:
        name = f"signal {-returncode}"
    return f"was killed by {name}"


class _CommandTransport:
    """A :class:`LineTransport` on the child's pipes whose end explains the child's fate."""

    def __init__(self, process: trio.Process, stderr: _StderrTail, command: str) -> None:
        assert process.stdin is not None
        assert process.stdout is not None
        self._process = process
        self._stderr = stderr
        self._command = command
        self._lines = LineTransport(
            process.stdout,
            process.stdin,
            description="JSON-RPC message from exec-server stdio command",
            max_message_size=MAX_INBOUND_MESSAGE,
        )
        self.description = self._lines.description

    async def _explain(self, reason: str) -> str:
        """The transport ended with ``reason``: add the exit status and stderr tail."""
        with trio.move_on_after(EXIT_REPORT_SECONDS):
            await self._process.wait()
            await self._stderr.done.wait()
        returncode = self._process.returncode
        if returncode is None:
            status = f"{reason} (exec-server command `{self._command}` still running)"
        else:
            status = f"exec-server command `{self._command}` {_exit_status(returncode)}"
        tail = self._stderr.text()
        return f"{status}; stderr: {tail}" if tail else status

    async def receive_message(self) -> bytes:
        """The next line; a line over the limit ends the transport (its reply is lost)."""
        try:
            return await self._lines.receive_message()
        except TransportClosed as error:
            raise TransportClosed(await self._explain(error.reason)) from None
        except MessageTooLarge as error:
            raise TransportClosed(await self._explain(str(error))) from None

    async def send_messages(self, messages: Sequence[EncodedMessage]) -> None:
        try:
            await self._lines.send_messages(messages)
        except TransportClosed as error:
            raise TransportClosed(await self._explain(error.reason)) from None

    async def aclose(self) -> None:
        await self._lines.aclose()

    async def abort(self) -> None:
        await self._lines.aclose()


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


async def _terminate_group(process: trio.Process, grace: float) -> None:
    """SIGTERM the group, wait up to ``grace`` for the leader, SIGKILL the group, reap.

    The final SIGKILL goes out even when the leader exited by itself, so
    nothing it left behind in its group survives the client.
    """
    _signal_group(process.pid, signal.SIGTERM)
    with trio.move_on_after(grace):
        await process.wait()
    _signal_group(process.pid, signal.SIGKILL)
    await process.wait()


@unwrap_exception_groups
@asynccontextmanager
async def connect_stdio(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    client_name: str = "execsrv-client",
    kill_grace: float = STDIO_TERMINATION_GRACE_SECONDS,
) -> AsyncIterator[Client]:
    """Spawn an exec-server command and talk to it over its stdin and stdout.

    ``argv`` is run directly (no shell), e.g.
    ``[sys.executable, "-m", "execsrv", "serve", "--listen", "stdio"]`` or
    ``["codex", "exec-server", "--listen", "stdio"]``, in its own process group.
    ``env`` is *added* to the inherited environment; ``cwd`` is where it runs.
    Its stderr is drained (and logged at debug on the ``execsrv.client`` logger);
    the last :data:`STDERR_TAIL_BYTES` go into error messages.

    Leaving the block closes the command's stdin, SIGTERMs its process group,
    waits ``kill_grace`` seconds for it to exit, then SIGKILLs the group. There
    is no resume over stdio: the session ends with the command.

    Raises:
        Disconnected: the command could not be started, or it exited or closed
            its stdout (its exit status and stderr tail are in ``reason``).
        RemoteError: the server refused ``initialize``.
    """
    command = " ".join(argv)
    try:
        process = await trio.lowlevel.open_process(
            list(argv),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, **env} if env is not None else None,
            cwd=cwd,
            start_new_session=True,
        )
    except OSError as error:
        raise Disconnected(f"could not start exec-server command `{command}`: {error}") from None
    try:
        async with trio.open_nursery() as nursery:
            assert process.stderr is not None
            stderr = _StderrTail()
            nursery.start_soon(stderr.drain, process.stderr)
            transport = _CommandTransport(process, stderr, command)
            # Closing the transport is stdin EOF: an execsrv stdio server stops.
            async with running_client(
                nursery,
                transport,
                client_name=client_name,
                server_name=f"`{command}`",
                dial=None,
            ) as client:
                yield client
    finally:
        with trio.CancelScope(shield=True):
            await _terminate_group(process, kill_grace)
            if process.stderr is not None:
                await trio.aclose_forcefully(process.stderr)
