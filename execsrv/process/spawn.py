"""Start a child in its own session and process group, on pipes or a PTY.

The child is forked inside its cgroup and listed with the death watch (see
:mod:`.containment`), so it dies with the server even on ``kill -9``; no
code runs in it between fork and exec on pipes, so ``subprocess`` uses
``vfork``. On a PTY the child takes the terminal as its *controlling*
terminal first (``preexec_fn``, so a full ``fork``), so job control and
``SIGWINCH`` on resize work.

A child confined to a permission profile is started through the sandbox's
launcher, which confines itself and then executes the command
(:mod:`execsrv.sandbox.command`); the spawn returns once it has.

Every child is forked by one thread that lives as long as the process
(:class:`ForkThread`): one fork at a time, as the cgroup step needs, and one
place that knows which children the server forked (:mod:`.reaper`).
"""

from __future__ import annotations

import errno
import fcntl
import os
import queue
import struct
import subprocess
import termios
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, TypeVar

import outcome
import trio

from ..protocol.errors import os_error_message
from ..protocol.generation import Generation
from ..sandbox.command import CommandSandbox, Launch, SandboxUnavailable, sandbox_problems
from .containment import Containment, death_watcher
from .errors import SpawnFailed

__all__ = ["SpawnedChild", "set_pty_size", "spawn_child"]

PIPE_CAPACITY: Final = 1 << 20
"""Pipe buffer we ask the kernel for (F_SETPIPE_SZ): fewer wakeups per MB."""

T = TypeVar("T")

_F_SETPIPE_SZ: Final = 1031


@dataclass
class SpawnedChild:
    process: trio.Process
    pty_master: trio.lowlevel.FdStream | None
    pty_master_fd: int | None
    containment: Containment
    """Everything the child starts, even what leaves its group (see :mod:`.containment`)."""


def set_pty_size(fd: int, rows: int, cols: int) -> None:
    """``TIOCSWINSZ``; the kernel sends ``SIGWINCH`` to the foreground group."""
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def _take_terminal() -> None:
    """A PTY child, between fork and exec, after ``setsid()``."""
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class ForkThread:
    """The one thread that forks every child; it lives until the process exits.

    Forking takes a few milliseconds at most, so one thread is enough. It
    also knows which children it forked (:mod:`.reaper` reaps the others).
    """

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.forked: dict[int, subprocess.Popen[bytes]] = {}
        """Children forked here, by pid; touched only on this thread."""

    def _run(self) -> None:
        while True:
            self._jobs.get()()

    async def run_sync(self, function: Callable[[], T]) -> T:
        """``function()`` on the fork thread; not cancellable (a fork, once
        done, has a child the caller must own)."""
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="execsrv-fork", daemon=True)
                self._thread.start()
        token = trio.lowlevel.current_trio_token()
        done = trio.Event()
        result: list[outcome.Outcome[T]] = []

        def job() -> None:
            result.append(outcome.capture(function))
            token.run_sync_soon(done.set)

        self._jobs.put(job)
        with trio.CancelScope(shield=True):
            await done.wait()
        return result[0].unwrap()

    def forget_reaped(self) -> None:
        """Drop the children trio has reaped (their pids may be reused); on this thread."""
        for pid in [pid for pid, popen in self.forked.items() if popen.returncode is not None]:
            del self.forked[pid]

    async def popen(
        self, args: list[str], containment: Containment, **options: Any
    ) -> subprocess.Popen[bytes]:
        """``subprocess.Popen(args, **options)`` on the fork thread, inside ``containment``."""

        def spawn() -> subprocess.Popen[bytes]:
            self.forget_reaped()
            popen: subprocess.Popen[bytes] = containment.fork_inside(
                lambda: subprocess.Popen(args, **options)
            )
            self.forked[popen.pid] = popen
            watcher = death_watcher()
            if watcher is not None:
                self.forked[watcher.pid] = watcher
            return popen

        return await self.run_sync(spawn)


fork_thread = ForkThread()


async def _open_process(
    args: list[str],
    *,
    executable: str,
    env: dict[str, str],
    stdin: int,
    stdout: int,
    stderr: int,
    containment: Containment,
    tty: bool,
    sandbox: CommandSandbox | None,
    **options: Any,
) -> trio.Process:
    """``trio.lowlevel.open_process``, forked on the fork thread; PIPE only for stdio.

    With a ``sandbox``, the launcher is forked in the command's place, and this
    returns once the command runs (see :class:`~execsrv.sandbox.command.Launch`).
    """
    launch: Launch | None = None
    fork_args: list[str] = args
    if sandbox is not None:
        if problems := sandbox_problems(sandbox):
            raise SandboxUnavailable("; ".join(problems))
        tty_path = os.ttyname(stdin) if tty else None
        launch = Launch(sandbox, file=executable, args=args, env=env, tty_path=tty_path)
        fork_args = launch.argv
        options.update(executable=None, env=launch.env, pass_fds=launch.pass_fds)
    else:
        options.update(executable=executable, env=env)
    try:
        process = await _fork(
            fork_args,
            stdin=stdin,
            stdout=stdout,
            stderr=stderr,
            containment=containment,
            tty=tty,
            **options,
        )
        if launch is None:
            return process
        launch.started()
        try:
            await launch.confirm()
        except BaseException:
            with trio.CancelScope(shield=True):
                process.kill()
                await process.wait()
                for stream in (process.stdin, process.stdout, process.stderr):
                    if stream is not None:
                        await stream.aclose()
            raise
        return process
    finally:
        if launch is not None:
            launch.close()


async def _fork(
    args: list[str],
    *,
    stdin: int,
    stdout: int,
    stderr: int,
    containment: Containment,
    tty: bool,
    **options: Any,
) -> trio.Process:
    """Fork ``args`` on the fork thread, inside ``containment``, as a trio Process."""
    ends: dict[str, trio.lowlevel.FdStream] = {}
    child_fds = {"stdin": stdin, "stdout": stdout, "stderr": stderr}
    for name, target in list(child_fds.items()):
        if target == subprocess.PIPE:
            read_fd, write_fd = os.pipe2(os.O_CLOEXEC)
            ours, theirs = (write_fd, read_fd) if name == "stdin" else (read_fd, write_fd)
            ends[name] = trio.lowlevel.FdStream(ours)
            child_fds[name] = theirs
    try:
        popen = await fork_thread.popen(
            args,
            containment,
            **child_fds,
            start_new_session=True,
            preexec_fn=_take_terminal if tty else None,
            **options,
        )
    except BaseException:
        for end in ends.values():
            end.close()
        raise
    finally:
        for name in ends:
            os.close(child_fds[name])
    # trio builds its Process from a Popen only inside open_process, which forks
    # on a worker thread; _create is how it does so.
    return trio.Process._create(popen, ends.get("stdin"), ends.get("stdout"), ends.get("stderr"))


def _grow_pipe(stream: trio.abc.ReceiveStream | trio.abc.SendStream | None) -> None:
    if isinstance(stream, trio.lowlevel.FdStream):
        try:
            fcntl.fcntl(stream.fileno(), _F_SETPIPE_SZ, PIPE_CAPACITY)
        except OSError:
            pass  # above /proc/sys/fs/pipe-max-size: keep the default


_SPAWN_KINDS: Final = {errno.ENOENT: "spawnNotFound", errno.EACCES: "spawnPermissionDenied"}
"""codex 0.171's ``data.kind`` of a spawn error by errno; any other is ``spawnFailed``."""


def _spawn_error(
    error: OSError,
    *,
    tty: bool,
    program: str,
    cwd: str,
    env: dict[str, str],
    generation: Generation,
) -> SpawnFailed:
    """The reference's text (and, for 0.171, ``data.kind``): the OS error, except
    where codex's PTY layer words a missing program itself (0.130: any missing
    program; 0.171: a bare name not found on the child's PATH)."""
    missing_program = tty and error.errno == errno.ENOENT and error.filename != cwd
    if generation is Generation.V0_130:
        if missing_program:
            return SpawnFailed(
                f"Unable to spawn {program} because it doesn't exist on the filesystem "
                "(ENOENT: No such file or directory)"
            )
        return SpawnFailed(os_error_message(error))
    if missing_program and "/" not in program:
        path = env.get("PATH")
        reason = (
            "Unable to resolve the PATH"
            if path is None
            else f'No viable candidates found in PATH "{path}"'
        )
        return SpawnFailed(f"Unable to spawn {program} because:\n{reason}", kind="spawnFailed")
    kind = _SPAWN_KINDS.get(error.errno or 0, "spawnFailed")
    return SpawnFailed(os_error_message(error), kind=kind)


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
    generation: Generation = Generation.V0_130,
    sandbox: CommandSandbox | None = None,
) -> SpawnedChild:
    """Spawn ``argv``; raises :class:`~.errors.SpawnFailed` with the OS error text
    (worded, and for 0.171 classified, as ``generation``'s codex does).

    ``argv[0]`` is looked up on the child's own ``PATH``. ``arg0`` replaces the
    ``argv[0]`` the child sees. With a ``sandbox`` the child is confined before
    it executes anything, or not started (``sandboxUnavailable``).
    """
    args = [arg0 if arg0 is not None else argv[0], *argv[1:]]
    containment = Containment()
    try:
        if tty:
            child = await _spawn_on_pty(
                args, argv[0], cwd, env, pty_rows, pty_cols, containment, sandbox
            )
        else:
            child = await _spawn_on_pipes(args, argv[0], cwd, env, pipe_stdin, containment, sandbox)
    except SandboxUnavailable as error:
        containment.abandon()
        raise SpawnFailed(
            f"sandbox unavailable: {error}",
            kind="sandboxUnavailable" if generation is Generation.V0_171 else None,
        ) from None
    except OSError as error:
        containment.abandon()
        raise _spawn_error(
            error, tty=tty, program=argv[0], cwd=cwd, env=env, generation=generation
        ) from None
    except BaseException:
        containment.abandon()
        raise
    containment.adopt(child.process.pid)
    return child


async def _spawn_on_pipes(
    args: list[str],
    executable: str,
    cwd: str,
    env: dict[str, str],
    pipe_stdin: bool,
    containment: Containment,
    sandbox: CommandSandbox | None,
) -> SpawnedChild:
    process = await _open_process(
        args,
        executable=executable,
        stdin=subprocess.PIPE if pipe_stdin else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=cwd,
        env=env,
        containment=containment,
        tty=False,
        sandbox=sandbox,
    )
    _grow_pipe(process.stdout)
    _grow_pipe(process.stderr)
    return SpawnedChild(process, None, None, containment)


async def _spawn_on_pty(
    args: list[str],
    executable: str,
    cwd: str,
    env: dict[str, str],
    rows: int,
    cols: int,
    containment: Containment,
    sandbox: CommandSandbox | None,
) -> SpawnedChild:
    master, slave = os.openpty()
    try:
        set_pty_size(master, rows, cols)
        env = {"SHELL": "/bin/bash", **env}  # the reference's PTY layer adds it
        process = await _open_process(
            args,
            executable=executable,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            cwd=cwd,
            env=env,
            containment=containment,
            tty=True,
            sandbox=sandbox,
        )
    except BaseException:
        os.close(master)
        raise
    finally:
        os.close(slave)
    return SpawnedChild(process, trio.lowlevel.FdStream(master), master, containment)
