"""``python -m execsrv exec`` and ``shell``: one remote command, local stdio attached.

``exec`` streams the command's stdout and stderr to ours, byte for byte, and
exits with its exit status (a signal death as 128+N, like a shell). ``shell``
runs a login shell on a remote PTY sized like the local terminal, with the
local terminal in raw mode (restored on every way out), keystrokes forwarded
as ``process/write`` and window changes (``SIGWINCH``) as ``process/resize``.

Local SIGINT, SIGTERM and SIGHUP are forwarded to the remote process group
(``shell`` turns SIGTERM into a hangup, which ends an interactive shell); a
second one stops waiting: the remote process is terminated and we exit with
128+N. When execsrv itself fails (cannot connect, the server refuses the
command, the connection drops) the message goes to stderr and the exit
status is 255, as ssh does.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from functools import partial
from typing import Final

import trio

from .client import (
    Client,
    ClientError,
    Closed,
    Disconnected,
    Exited,
    Failed,
    Gap,
    Output,
    RemoteError,
    RemoteProcess,
    connect,
)
from .client.auth import TOKEN_ENV, token_from_env
from .protocol.process import EnvPolicy, SignalName
from .terminal import preserve_blocking, raw_mode, terminal_size

__all__ = [
    "EXIT_FAILURE",
    "RemoteCommand",
    "add_remote_commands",
    "exit_status",
    "run_remote",
    "run_remote_command",
]

EXIT_FAILURE: Final = 255
"""Our exit status when execsrv itself fails (as ssh)."""

STDIN_CHUNK_BYTES: Final = 64 * 1024

STOP_SECONDS: Final = 2.0
"""Bound on terminating the remote process when we leave before it exited."""

INHERIT_SERVER_ENV: Final = EnvPolicy(
    inherit="all", ignore_default_excludes=False, exclude=[], set={}, include_only=[]
)
"""The remote command gets the server's environment (minus ``*KEY*``, ``*SECRET*``
and ``*TOKEN*`` names, the reference's default excludes), then ``--env`` on top."""

EXEC_SIGNALS: Final[Mapping[int, SignalName]] = {
    signal.SIGINT: "interrupt",
    signal.SIGTERM: "terminate",
    signal.SIGHUP: "hangup",
}
SHELL_SIGNALS: Final[Mapping[int, SignalName]] = {
    signal.SIGINT: "interrupt",
    signal.SIGTERM: "hangup",  # an interactive shell ignores SIGTERM
    signal.SIGHUP: "hangup",
}

LOGIN_SHELL: Final = (
    's=${SHELL:-}; [ -x "$s" ] || s=$(command -v bash || echo /bin/sh); exec "$s" -l'
)
"""Run by ``/bin/sh -c``: the remote ``$SHELL`` (or bash, or sh) as a login shell."""


def exit_status(exit_code: int | None, signal_name: str | None) -> int:
    """A shell's ``$?`` for a remote exit: the code, or 128+N for a death by signal N."""
    if signal_name is not None:
        number = _signal_number(signal_name)
        if number is not None:
            return 128 + number
    if exit_code is None or not 0 <= exit_code <= 255:
        return EXIT_FAILURE  # e.g. codex reports a signal death as -1, without the signal
    return exit_code


def _signal_number(name: str) -> int | None:
    if name.startswith("SIGRTMIN+") and name[9:].isdigit():
        return int(signal.SIGRTMIN) + int(name[9:])
    try:
        return int(signal.Signals[name])
    except KeyError:
        return None


@dataclass(frozen=True)
class RemoteCommand:
    """What to run where, and how the local side is attached."""

    url: str
    argv: list[str]
    cwd: str = "/"
    env: dict[str, str] = field(default_factory=dict)
    tty: bool = False
    forward_stdin: bool = False
    token: str | None = None
    """Sent as ``Authorization: Bearer`` (servers run with ``--auth-token-file``)."""
    signals: Mapping[int, SignalName] = field(default_factory=lambda: dict(EXEC_SIGNALS))


class _Attached:
    """One started remote process with local stdout, stderr and maybe stdin attached."""

    def __init__(
        self,
        proc: RemoteProcess,
        stdout: trio.abc.SendStream,
        stderr: trio.abc.SendStream,
        *,
        raw: bool,
        signals: Mapping[int, SignalName],
    ) -> None:
        self._proc = proc
        self._stdout = stdout
        self._stderr = stderr
        self._newline = b"\r\n" if raw else b"\n"
        self._signals = signals
        self._signalled = False
        self.exited = False
        self.status = EXIT_FAILURE

    async def run(
        self,
        local_signals: AsyncIterator[int],
        window_changes: AsyncIterator[int] | None,
        *,
        forward_stdin: bool,
    ) -> int:
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._forward_signals, local_signals, nursery.cancel_scope)
                if forward_stdin:
                    nursery.start_soon(self._forward_stdin)
                if window_changes is not None:
                    nursery.start_soon(self._forward_resizes, window_changes)
                await self._copy_output()
                nursery.cancel_scope.cancel()
        finally:
            if not self.exited:  # an error or a second signal: do not leave it running
                with trio.move_on_after(STOP_SECONDS, shield=True):
                    with contextlib.suppress(ClientError):
                        await self._proc.terminate()
        return self.status

    async def _copy_output(self) -> None:
        async for event in self._proc.events:
            match event:
                case Output(stream="stderr", data=data):
                    await self._write(self._stderr, data)
                case Output(data=data):
                    await self._write(self._stdout, data)
                case Exited(exit_code=code, signal=signal_name):
                    self.exited = True
                    self.status = exit_status(code, signal_name)
                case Gap(first=first, last=last):
                    note = f"execsrv: output seqs {first}..{last} were dropped by the server"
                    await self._write(self._stderr, note.encode() + self._newline)
                case Failed(reason=reason):
                    raise Disconnected(reason)
                case Closed():
                    return

    async def _write(self, stream: trio.abc.SendStream, data: bytes) -> None:
        try:
            await stream.send_all(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass  # our reader went away (`| head`): keep draining, like a shell pipeline

    async def _forward_stdin(self) -> None:
        async with trio.lowlevel.FdStream(os.dup(0)) as stdin:
            while data := await stdin.receive_some(STDIN_CHUNK_BYTES):
                if await self._proc.write(bytes(data)) == "stdinClosed":
                    return
        await self._proc.close_stdin()

    async def _forward_resizes(self, window_changes: AsyncIterator[int]) -> None:
        async for _ in window_changes:
            size = terminal_size(0, 1, 2)
            if size is not None:
                await self._proc.resize(*size)

    async def _forward_signals(
        self, local_signals: AsyncIterator[int], scope: trio.CancelScope
    ) -> None:
        async for signum in local_signals:
            if self._signalled:  # the second one: stop waiting for the remote process
                self.status = 128 + signum
                scope.cancel()
                return
            self._signalled = True
            try:
                await self._proc.signal(self._signals[signum])
            except RemoteError:  # a server without process/signal (codex 0.130.0)
                await self._proc.terminate()


async def _start(
    client: Client, command: RemoteCommand, size: tuple[int, int] | None
) -> RemoteProcess:
    env = dict(command.env)
    if command.tty and "TERM" not in env and os.environ.get("TERM"):
        env["TERM"] = os.environ["TERM"]
    try:
        return await client.start_process(
            command.argv,
            cwd=command.cwd,
            env=env,
            env_policy=INHERIT_SERVER_ENV,
            tty=command.tty,
            pipe_stdin=command.forward_stdin and not command.tty,
            pty_size=size,
        )
    except RemoteError as error:
        message = f"could not start {command.argv[0]}: {error.message}"
        raise RemoteError(error.code, message) from None


async def _run(command: RemoteCommand, *, raw: bool) -> int:
    with trio.open_signal_receiver(*command.signals) as local_signals:
        async with AsyncExitStack() as stack:
            # Closed last, after every stream opened below: they all share fd flags.
            stdout = await stack.enter_async_context(trio.lowlevel.FdStream(os.dup(1)))
            stderr = await stack.enter_async_context(trio.lowlevel.FdStream(os.dup(2)))
            window_changes = None
            if command.tty:
                window_changes = stack.enter_context(trio.open_signal_receiver(signal.SIGWINCH))
            size = terminal_size(0, 1, 2) if command.tty else None
            client = await stack.enter_async_context(
                connect(command.url, client_name="execsrv-cli", token=command.token)
            )
            proc = await _start(client, command, size)
            attached = _Attached(proc, stdout, stderr, raw=raw, signals=command.signals)
            return await attached.run(
                local_signals, window_changes, forward_stdin=command.forward_stdin
            )


def run_remote(command: RemoteCommand, *, prog: str) -> int:
    """Run ``command`` to its end with local stdio attached; return our exit status."""
    raw = command.tty and command.forward_stdin and os.isatty(0)
    with preserve_blocking((0, 1, 2)):
        try:
            with raw_mode(0) if raw else contextlib.nullcontext():
                return trio.run(partial(_run, command, raw=raw))
        except ClientError as error:
            message = error.message if isinstance(error, RemoteError) else str(error)
        except ValueError as error:  # a token no header can carry
            message = str(error)
        except KeyboardInterrupt:  # before our signal handling was in place
            return 128 + signal.SIGINT
    print(f"{prog}: {message}", file=sys.stderr)  # after the terminal is restored
    return EXIT_FAILURE


def _env_pair(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return name, value


def _add_common(parser: argparse.ArgumentParser, *, cwd_help: str) -> None:
    parser.add_argument("url", metavar="URL", help="the server, e.g. ws://127.0.0.1:PORT")
    parser.add_argument("--cwd", metavar="DIR", help=cwd_help)
    parser.add_argument(
        "--env",
        type=_env_pair,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="set a variable for the remote command (repeatable); it starts from the "
        "server's environment without names matching *KEY*, *SECRET* or *TOKEN*",
    )
    parser.add_argument(
        "--token-env",
        default=TOKEN_ENV,
        metavar="VAR",
        help="send the bearer token in environment variable VAR, if set, for servers "
        f"run with --auth-token-file (default {TOKEN_ENV})",
    )


def add_remote_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``exec`` and ``shell`` to the ``python -m execsrv`` subcommands."""
    exec_parser = commands.add_parser(
        "exec",
        help="run one command on a server",
        description="Run ARGV on the server at URL, stream its stdout and stderr here "
        "(byte for byte) and exit with its exit status (128+N if a signal N killed it; "
        f"{EXIT_FAILURE} if execsrv itself failed). Local SIGINT, SIGTERM and SIGHUP are "
        "forwarded to the remote process group; a second one terminates it.",
    )
    _add_common(exec_parser, cwd_help="remote working directory (default /)")
    exec_parser.add_argument(
        "--tty", action="store_true", help="run the command on a PTY sized like ours"
    )
    exec_parser.add_argument(
        "--stdin",
        action="store_true",
        help="forward our stdin to the command (EOF closes its stdin); with --tty on a "
        "terminal, the terminal is put in raw mode as for `shell`. Without it the "
        "command's stdin is empty",
    )
    exec_parser.add_argument("argv", nargs="+", metavar="ARGV", help="the command (after --)")
    shell_parser = commands.add_parser(
        "shell",
        help="an interactive shell on a server",
        description="Start the remote $SHELL (or bash) as a login shell on a PTY sized "
        "like this terminal, with this terminal in raw mode until it exits. Window size "
        "changes are forwarded. SIGTERM or SIGHUP here hangs the remote shell up.",
    )
    _add_common(shell_parser, cwd_help="remote working directory (default: the remote $HOME)")


def run_remote_command(args: argparse.Namespace) -> int:
    """Run the parsed ``exec`` or ``shell`` command; return the exit status."""
    prog = f"execsrv {args.command}"
    env = dict(args.env)
    token = token_from_env(args.token_env)
    if args.command == "shell":
        if not os.isatty(0):
            print(f"{prog}: stdin is not a terminal", file=sys.stderr)
            return 2
        script = LOGIN_SHELL if args.cwd else f"cd ~ 2>/dev/null; {LOGIN_SHELL}"
        command = RemoteCommand(
            url=args.url,
            argv=["/bin/sh", "-c", script],
            cwd=args.cwd or "/",
            env=env,
            tty=True,
            forward_stdin=True,
            token=token,
            signals=SHELL_SIGNALS,
        )
    else:
        command = RemoteCommand(
            url=args.url,
            argv=list(args.argv),
            cwd=args.cwd or "/",
            env=env,
            tty=args.tty,
            forward_stdin=args.stdin,
            token=token,
        )
    return run_remote(command, prog=prog)
