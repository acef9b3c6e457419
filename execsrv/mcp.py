"""MCP stdio servers on the executor, for the official ``mcp`` SDK (extra ``execsrv[mcp]``).

::

    from mcp import ClientSession
    import execsrv.mcp

    async with (
        execsrv.mcp.stdio_client(client, "python", ["server.py"]) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        tools = await session.list_tools()

:func:`stdio_client` is the SDK's ``stdio_client`` with the server process running
on the executor: one JSON-RPC message per line over the process's stdin and
stdout (:func:`~execsrv.streams.open_process_stream`). It works with ``mcp`` 1.x
(``mcp.types``) and 2.x (``mcp_types``), under trio (anyio's memory streams run
on it). What a caller may rely on:

- **stderr stays out of band**: to ``errlog`` if given, else the ``execsrv.mcp``
  logger (INFO); never into the JSON-RPC stream.
- **Nothing is lost silently.** Output the executor evicted before it was read, or
  a connection gone for good, puts a :class:`ConnectionError` on the read stream
  and ends it, so the session fails its pending requests ("Connection closed")
  instead of waiting for them. The same happens when the server exits or closes
  its stdout while the block is open (the error names the exit status). With
  ``execsrv.connect(..., auto_resume=True)`` a dropped connection is resumed and
  the session carries on: no message is lost or delivered twice.
- **A message is written at most once.** A write whose connection failed is not
  sent again (it may have been applied: a repeated ``tools/call`` is worse than a
  failed one); the read stream gets a :class:`ConnectionError` and ends.
- **A line that is not a JSON-RPC message** is put on the read stream as the
  SDK's parse exception (the SDK's own behaviour) and reading goes on; a line
  longer than ``max_message_bytes`` likewise, as a :class:`ValueError`.
- **Leaving the block ends the server** in the MCP spec's order, shielded from
  cancellation and bounded: close stdin, wait ``grace_seconds`` for the exit,
  SIGTERM the process group, wait again, SIGKILL (against codex 0.130, which has
  no ``closeStdin``, straight to the kill).

The server's environment is the executor's ``inherit`` variables (the SDK's safe
default set) with ``env`` laid over it; its process id is ``mcp-stdio-N``.
"""

from __future__ import annotations

import codecs
import itertools
import logging
import math
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from functools import partial
from os import PathLike, fspath
from typing import Any, Final, Protocol, TextIO

import anyio
import trio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from mcp import types as mcp_types
from mcp.shared.message import SessionMessage

from .backend import ExecBackend
from .client import Client
from .protocol.framing import LineFramer, MessageTooLarge
from .protocol.process import EnvPolicy
from .streams import DEFAULT_CLOSE_GRACE_SECONDS, OutputLost, ProcessStream, open_process_stream


def _wire_codec() -> tuple[Callable[[bytes], Any], dict[str, bool]]:
    """The installed SDK generation's line parser and dump options (as its stdio_client)."""
    adapter = getattr(mcp_types, "jsonrpc_message_adapter", None)
    if adapter is not None:  # mcp 2.x
        return partial(adapter.validate_json, by_name=False), {
            "by_alias": True,
            "exclude_unset": True,
        }
    message_model: Any = mcp_types.JSONRPCMessage  # mcp 1.x: a RootModel
    return message_model.model_validate_json, {"by_alias": True, "exclude_none": True}


_parse, _DUMP_OPTIONS = _wire_codec()

__all__ = [
    "DEFAULT_INHERITED_ENV",
    "DEFAULT_MAX_MESSAGE_BYTES",
    "ServerParameters",
    "stdio_client",
]

log = logging.getLogger("execsrv.mcp")

DEFAULT_INHERITED_ENV: Final = ("HOME", "LOGNAME", "PATH", "SHELL", "TERM", "USER")
"""The variables the SDK's ``get_default_environment`` passes on (POSIX)."""

DEFAULT_MAX_MESSAGE_BYTES: Final = 64 << 20
"""The longest stdout line taken as a message; longer ones are reported and skipped."""

MESSAGE_BUFFER: Final = 0
"""The SDK's own stdio streams are unbuffered: a message is handed over, not queued."""

_process_numbers = itertools.count(1)

ReadItem = SessionMessage | Exception


class ServerParameters(Protocol):
    """What is read of the SDK's ``StdioServerParameters`` (either generation)."""

    command: str
    args: list[str]
    env: dict[str, str] | None
    cwd: str | PathLike[str] | None


@asynccontextmanager
async def stdio_client(
    target: ExecBackend | Client,
    command: str | ServerParameters,
    args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    *,
    cwd: str | PathLike[str] | None = None,
    errlog: TextIO | None = None,
    inherit: Sequence[str] = DEFAULT_INHERITED_ENV,
    grace_seconds: float = DEFAULT_CLOSE_GRACE_SECONDS,
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
) -> AsyncIterator[tuple[MemoryObjectReceiveStream[ReadItem], MemoryObjectSendStream[Any]]]:
    """Start an MCP stdio server on ``target`` and yield ``(read, write)`` for
    ``ClientSession``.

    ``target`` is an :class:`~execsrv.backend.ExecBackend` or a connected
    :class:`~execsrv.Client`. ``command`` is the program, or an SDK
    ``StdioServerParameters`` (its ``command``, ``args``, ``env`` and ``cwd``;
    the other arguments then still apply). ``cwd`` must be absolute on the
    executor (default ``/``). Raises ``RemoteError`` if the server cannot be
    started.
    """
    if not (grace_seconds >= 0 and math.isfinite(grace_seconds)):
        raise ValueError("grace_seconds must be finite and not negative")
    if max_message_bytes < 1:
        raise ValueError("max_message_bytes must be at least 1")
    if not isinstance(command, str):
        args, env, cwd = command.args, command.env, command.cwd if cwd is None else cwd
        command = command.command
    process_id = f"mcp-stdio-{next(_process_numbers)}"
    reader_send, read_stream = anyio.create_memory_object_stream[ReadItem](MESSAGE_BUFFER)
    write_stream, writer_receive = anyio.create_memory_object_stream[Any](MESSAGE_BUFFER)
    async with (
        reader_send,
        read_stream,
        write_stream,
        writer_receive,
        open_process_stream(
            target,
            [command, *args],
            cwd="/" if cwd is None else fspath(cwd),
            env=dict(env or {}),
            env_policy=_inherited(inherit),
            process_id=process_id,
            on_stderr=_stderr_to(errlog, process_id),
            grace_seconds=grace_seconds,
        ) as stream,
    ):
        pumps = _Pumps(stream, reader_send, max_message_bytes)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(pumps.stdout_to_session)
            nursery.start_soon(pumps.session_to_stdin, writer_receive)
            try:
                yield read_stream, write_stream
            finally:
                pumps.closing = True
                # Let the writer finish what the session already handed over, then stop.
                write_stream.close()
                with trio.CancelScope(shield=True), trio.move_on_after(grace_seconds):
                    await pumps.stdin_done.wait()
                nursery.cancel_scope.cancel()
        # open_process_stream's exit: closeStdin → TERM → KILL, shielded


def _inherited(names: Sequence[str]) -> EnvPolicy:
    """The executor's own values of ``names`` (an empty ``include_only`` keeps all)."""
    return EnvPolicy(
        inherit="all" if names else "none",
        ignore_default_excludes=False,
        exclude=[],
        set={},
        include_only=list(names),
    )


def _stderr_to(errlog: TextIO | None, process_id: str) -> Callable[[bytes], None]:
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def write(data: bytes) -> None:
        text = decoder.decode(data)
        if errlog is not None:
            errlog.write(text)
            errlog.flush()
        elif text.strip():
            log.info("MCP server %s stderr: %s", process_id, text.rstrip())

    return write


class _Pumps:
    """The two tasks between the process stream and the SDK's memory streams."""

    def __init__(
        self,
        stream: ProcessStream,
        reader_send: MemoryObjectSendStream[ReadItem],
        max_message_bytes: int,
    ) -> None:
        self.stream = stream
        self.reader_send = reader_send
        self.framer = LineFramer(max_message_bytes)
        self.closing = False  # the caller left the block: an ending stream is expected
        self.stdin_done = trio.Event()

    async def stdout_to_session(self) -> None:
        """Parse stdout lines onto the read stream until the output ends."""
        try:
            while data := await self.stream.receive_some():
                for line in self.framer.receive_data(data):
                    await self._deliver(line)
            if final := self.framer.pending:  # flushed by the process as it ended
                await self._deliver(final)
            if not self.closing:
                await self._end(ConnectionError(self._ended_early()))
        except OutputLost as lost:
            await self._end(ConnectionError(f"MCP server output lost: {lost.reason}"))
        except (anyio.ClosedResourceError, anyio.BrokenResourceError):
            pass  # the session closed its read stream: nobody is listening
        finally:
            self.reader_send.close()

    async def _deliver(self, line: bytes | MessageTooLarge) -> None:
        if isinstance(line, MessageTooLarge):
            item: ReadItem = ValueError(f"MCP server message dropped: {line}")
        else:
            try:
                item = SessionMessage(_parse(line))
            except ValueError as error:  # pydantic's ValidationError is one
                log.debug("unparseable line from the MCP server: %r", line[:200])
                item = error
        await self.reader_send.send(item)

    def _ended_early(self) -> str:
        status = self.stream.process.events.exit_status
        if status is None:
            how = "closed its stdout"
        elif status.signal is not None:
            how = f"was killed by {status.signal}"
        else:
            how = f"exited (exit code {status.exit_code})"
        message = f"MCP server {self.stream.process.process_id} {how}"
        log.warning("%s while the session was open", message)
        return message

    async def _end(self, error: ConnectionError) -> None:
        """Tell the session why the stream ends; it then fails pending requests."""
        try:
            await self.reader_send.send(error)
        except (anyio.ClosedResourceError, anyio.BrokenResourceError):
            pass
        self.reader_send.close()

    async def session_to_stdin(self, messages: MemoryObjectReceiveStream[Any]) -> None:
        """Write each message the session sends as one line; never retry one."""
        try:
            async for message in messages:
                line = message.message.model_dump_json(**_DUMP_OPTIONS) + "\n"
                try:
                    await self.stream.send_all(line.encode())
                except (trio.BrokenResourceError, trio.ClosedResourceError) as error:
                    await self._end(ConnectionError(f"MCP server stdin: {error}"))
                    return
        finally:
            self.stdin_done.set()
