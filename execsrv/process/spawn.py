"""Start a child in its own session and process group, on pipes or a PTY.

PTY children get the terminal as their *controlling* terminal, so job
control and ``SIGWINCH`` on resize work. That needs ``TIOCSCTTY`` in the
child between fork and exec, which Python only offers through
``preexec_fn``; we accept it for PTY spawns only (the callback is one
pre-imported ioctl), and keep the fast ``vfork`` path for pipe spawns.
"""

from __future__ import annotations

import errno
import fcntl
import os
import struct
import subprocess
import termios
from dataclasses import dataclass
from typing import Final

import trio

from ..protocol.errors import RpcError, os_error_message

__all__ = ["SpawnedChild", "set_pty_size", "spawn_child"]

PIPE_CAPACITY: Final = 1 << 20
"""Pipe buffer we ask the kernel for (F_SETPIPE_SZ): fewer wakeups per MB."""

_F_SETPIPE_SZ: Final = 1031


@dataclass
class SpawnedChild:
    process: trio.Process
    pty_master: trio.lowlevel.FdStream | None
    pty_master_fd: int | None


def set_pty_size(fd: int, rows: int, cols: int) -> None:
    """``TIOCSWINSZ``; the kernel sends ``SIGWINCH`` to the foreground group."""
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def _acquire_controlling_terminal() -> None:  # runs in the child, after setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def _grow_pipe(stream: trio.abc.ReceiveStream | trio.abc.SendStream | None) -> None:
    if isinstance(stream, trio.lowlevel.FdStream):
        try:
            fcntl.fcntl(stream.fileno(), _F_SETPIPE_SZ, PIPE_CAPACITY)
        except OSError:
            pass  # above /proc/sys/fs/pipe-max-size: keep the default


def _spawn_error(error: OSError, *, tty: bool, program: str, cwd: str) -> RpcError:
    if tty and error.errno == errno.ENOENT and error.filename != cwd:
        return RpcError.internal(
            f"Unable to spawn {program} because it doesn't exist on the filesystem "
            "(ENOENT: No such file or directory)"
        )
    return RpcError.internal(os_error_message(error))


async def spawn_child(
    argv: list[str],
    *,
    cwd: str,
    env: dict[str, str],
    tty: bool,
    pipe_stdin: bool,
    arg0: str | None,
    pty_rows: int,
    pty_cols: int,
) -> SpawnedChild:
    """Spawn ``argv``; raises :class:`RpcError` ``-32603`` with the OS error text.

    ``argv[0]`` is looked up on the child's own ``PATH``. ``arg0`` replaces the
    ``argv[0]`` the child sees.
    """
    args = [arg0 if arg0 is not None else argv[0], *argv[1:]]
    if not tty:
        try:
            process = await trio.lowlevel.open_process(
                args,
                executable=argv[0],
                stdin=subprocess.PIPE if pipe_stdin else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                cwd=cwd,
                env=env,
                start_new_session=True,
            )
        except OSError as error:
            raise _spawn_error(error, tty=False, program=argv[0], cwd=cwd) from None
        _grow_pipe(process.stdout)
        _grow_pipe(process.stderr)
        return SpawnedChild(process, None, None)

    master, slave = os.openpty()
    try:
        set_pty_size(master, pty_rows, pty_cols)
        env = {"SHELL": "/bin/bash", **env}  # the reference's PTY layer adds it
        process = await trio.lowlevel.open_process(
            args,
            executable=argv[0],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            cwd=cwd,
            env=env,
            start_new_session=True,
            preexec_fn=_acquire_controlling_terminal,
        )
    except OSError as error:
        os.close(master)
        raise _spawn_error(error, tty=True, program=argv[0], cwd=cwd) from None
    except BaseException:
        os.close(master)
        raise
    finally:
        os.close(slave)
    return SpawnedChild(process, trio.lowlevel.FdStream(master), master)
