"""Confine a command to a permission profile: what to enforce, and how to launch it.

:func:`command_sandbox` turns a profile into a :class:`CommandSandbox` (the
file system :class:`~.policy.FsPolicy` and whether the network is
restricted). :class:`Launch` starts the command through :mod:`.launcher`, a
small re-exec helper that confines itself and then becomes the command:

* **files**: Landlock rules (read where the profile allows; write beneath the
  writable roots, never creating device nodes; ``/dev/null``, ``/dev/zero``,
  ``/dev/full``, ``/dev/tty`` and the command's own PTY), and a private mount
  namespace in which everything outside the writable roots, and the
  protected paths inside them, are read-only. Where the kernel refuses the
  namespace, the :func:`~.landlock.fs_rules` that leave the protected paths
  out are used instead, and seccomp refuses ``chmod``;
* **network**: seccomp lets ``socket`` open ``AF_UNIX`` only; Landlock denies
  TCP and abstract sockets outside the sandbox as the ABI allows;
* **no way back**: ``no_new_privs``, every capability dropped as root, signals
  scoped to the sandbox; all of it inherited by every descendant.

Why a re-exec helper: Landlock and seccomp confine a thread, and a user
namespace needs a single-threaded process, which the server is not; running
Python between ``fork`` and ``exec`` in a threaded server risks deadlocks and
forces ``fork`` over ``vfork``. The helper costs one interpreter start per
confined command (``python -m bench spawn``, row 2c: about 25 ms from start
to ``closed``, against codex 0.171's 55 ms for the same start; unconfined,
execsrv takes about 3 ms).
"""

from __future__ import annotations

import marshal
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import trio

from ..frozen import helper_env
from ..protocol import fs as f
from ..protocol.process import restricts_network
from . import kernel
from .landlock import ALL, fs_rules
from .policy import FsPolicy, fs_policy

__all__ = [
    "CommandSandbox",
    "Launch",
    "SandboxUnavailable",
    "command_sandbox",
    "sandbox_problems",
]

LAUNCHER: Final = str(Path(__file__).with_name("launcher.py"))

_WRITE: Final = ALL & ~(kernel.MAKE_CHAR | kernel.MAKE_BLOCK)
"""What a writable root grants: everything but creating device nodes."""
_DEVICE: Final = kernel.READ_FILE | kernel.WRITE_FILE | kernel.TRUNCATE | kernel.IOCTL_DEV
_DEVICES: Final = ("/dev/null", "/dev/zero", "/dev/full", "/dev/tty")
"""Writable for every confined command (plus its own PTY)."""
_PRIVATE_DIRS: Final = ("/dev/shm",)
"""Writable for every confined command, as an empty tmpfs of its own (where the
kernel allows the mount; read-only otherwise): POSIX shared memory and semaphores."""


class SandboxUnavailable(Exception):
    """The kernel cannot confine this command as asked; nothing was run."""


@dataclass(frozen=True)
class CommandSandbox:
    """How one command is confined."""

    policy: FsPolicy | None
    """Where it may read and write; None: the file system is not restricted."""
    deny_network: bool
    """Only ``AF_UNIX`` sockets."""


def command_sandbox(
    profile: f.PermissionProfile,
    *,
    cwd: str | None,
    project_roots: Sequence[str],
    env: Mapping[str, str],
) -> CommandSandbox | None:
    """The confinement ``profile`` asks for, or None if it restricts nothing.

    Raises:
        PolicyUnsupported: the profile takes access away inside an allowed area.
    """
    policy = fs_policy(profile, cwd=cwd, env=env, project_roots=project_roots)
    deny_network = restricts_network(profile)
    if policy is None and not deny_network:
        return None
    return CommandSandbox(policy, deny_network)


def sandbox_problems(sandbox: CommandSandbox) -> list[str]:
    """Why this kernel cannot enforce ``sandbox`` (empty: it can, as far as a
    probe can tell; the launcher reports what the kernel refuses at the start)."""
    problems = []
    if sandbox.policy is not None and kernel.landlock_abi() < 1:
        problems.append("the kernel has no Landlock (Linux 5.13+ with landlock in the lsm= list)")
    if sandbox.deny_network:
        try:
            kernel.seccomp_filter()
        except kernel.KernelRefused as error:
            problems.append(str(error))
        if not Path("/proc/self/status").read_text().count("Seccomp:"):
            problems.append("the kernel has no seccomp")
    return problems


def _rules(
    policy: FsPolicy, tty_path: str | None
) -> tuple[list[tuple[str, int]], list[tuple[str, int]]]:
    """Landlock rules with the protected paths bound read-only, and without a mount."""
    devices = [(path, _DEVICE) for path in (*_DEVICES, *([tty_path] if tty_path else []))]
    devices += [("/dev/random", kernel.READ_FILE), ("/dev/urandom", kernel.READ_FILE)]
    read = [(root, kernel.READ) for root in policy.read_roots + policy.write_roots]
    whole = read + [(root, _WRITE) for root in policy.write_roots] + devices
    fallback = fs_rules(policy, write=_WRITE) + devices
    return whole, fallback


class Launch:
    """One confined start: the launcher's argv, its spec and its status pipe.

    Make it, pass :attr:`argv`, :attr:`env` and :attr:`pass_fds` to the spawn, call
    :meth:`started` once the launcher is forked (closes the child's ends), then
    ``await`` :meth:`confirm`. :meth:`close` releases everything and is safe to call
    more than once.
    """

    def __init__(
        self,
        sandbox: CommandSandbox,
        *,
        file: str,
        args: Sequence[str],
        env: Mapping[str, str],
        tty_path: str | None,
    ) -> None:
        policy = sandbox.policy
        spec: dict[str, object] = {
            "file": file,
            "argv": list(args),
            "env": dict(env),
            "deny_network": sandbox.deny_network,
            "rules": None,
            "fallback_rules": None,
            "read_only": [],
            "write_roots": [],
            "private_dirs": [],
        }
        if policy is not None:
            whole, fallback = _rules(policy, tty_path)
            spec["rules"], spec["fallback_rules"] = whole, fallback
            spec["read_only"] = [p for p in policy.read_only if os.path.lexists(p)]
            spec["write_roots"] = [p for p in policy.write_roots if os.path.isdir(p)]
            spec["private_dirs"] = [(p, _WRITE) for p in _PRIVATE_DIRS if os.path.isdir(p)]
        self._spec_fd = os.memfd_create("execsrv-launch", 0)
        os.write(self._spec_fd, marshal.dumps(spec))
        os.lseek(self._spec_fd, 0, os.SEEK_SET)
        self._status_read, self._status_write = os.pipe2(os.O_CLOEXEC)
        os.set_inheritable(self._status_write, True)
        self.pass_fds: tuple[int, ...] = (self._spec_fd, self._status_write)
        self.argv = [sys.executable, "-I", "-S", LAUNCHER, *map(str, self.pass_fds)]
        self.env = helper_env()
        """The launcher's own environment (the command gets the spec's): empty
        unless a single-file executable must find its unpacked files."""
        self._stream: trio.lowlevel.FdStream | None = None

    def started(self) -> None:
        """The launcher is forked: drop the ends that are now its own."""
        for fd in self.pass_fds:
            os.close(fd)
        self.pass_fds = ()
        self._stream = trio.lowlevel.FdStream(self._status_read)

    async def confirm(self) -> None:
        """Wait until the command runs (the status pipe closes on its ``exec``).

        Raises:
            SandboxUnavailable: the kernel refused a confinement step.
            OSError: the command could not be executed (as ``subprocess`` raises).
        """
        assert self._stream is not None
        report = b""
        while chunk := await self._stream.receive_some():
            report += chunk
        if not report:
            return
        status = marshal.loads(report)
        if "sandbox" in status:
            raise SandboxUnavailable(status["sandbox"])
        code = status["errno"]
        raise OSError(code, os.strerror(code), status["filename"])

    def close(self) -> None:
        """Close what is still open of the spec and the status pipe."""
        for fd in self.pass_fds:
            os.close(fd)
        self.pass_fds = ()
        if self._stream is not None:
            self._stream.close()
        elif self._status_read >= 0:
            os.close(self._status_read)
        self._status_read = -1
