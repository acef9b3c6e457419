"""Helpers for managed-process tests: child programs, event collection, pid checks.

Nothing here replaces the thing under test: processes are real children of a
real server, observed through the real client (or the raw wire client).
Synchronisation is by output the child prints, by the server's own
notifications, or by kernel events (a pidfd turning readable); never by sleep.
"""

from __future__ import annotations

import base64
import os
import sys
import textwrap
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import trio

import execsrv
from execsrv.client import Closed, Exited, Failed, Gap, Output, ProcessEvent
from execsrv.process.deathwatch import WATCHER_SCRIPT

from ..conftest import CHILD_ENV

PYTHON = sys.executable

__all__ = [
    "CHILD_ENV",
    "PYTHON",
    "Collector",
    "b64",
    "children_of",
    "exec_params",
    "is_dead",
    "proc_state",
    "py",
    "unb64",
    "wait_dead",
]


def py(code: str) -> list[str]:
    """argv running ``code`` (dedented) in this interpreter."""
    return [PYTHON, "-c", textwrap.dedent(code)]


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def unb64(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


def exec_params(process_id: str, argv: list[str], **extra: object) -> dict[str, object]:
    """Wire ``process/start`` params with the required fields filled in."""
    params: dict[str, object] = {
        "processId": process_id,
        "argv": argv,
        "cwd": "/",
        "env": CHILD_ENV,
        "tty": False,
    }
    params.update(extra)
    return params


class Collector:
    """Consume one process's event stream, keeping everything it saw.

    The stream is single-consumer; a test drives it with :meth:`until` (stop as
    soon as a condition holds) and :meth:`finish` (run to ``Closed``).
    """

    def __init__(self, proc: execsrv.RemoteProcess) -> None:
        self.proc = proc
        self.events: list[ProcessEvent] = []
        self.stdout = bytearray()
        self.stderr = bytearray()
        self.pty = bytearray()
        self.exited: Exited | None = None
        self.closed: Closed | None = None

    @property
    def output(self) -> bytes:
        """Every output byte in seq order, whatever the stream."""
        return b"".join(e.data for e in self.events if isinstance(e, Output))

    @property
    def exit_code(self) -> int | None:
        return None if self.exited is None else self.exited.exit_code

    @property
    def exit_signal(self) -> str | None:
        return None if self.exited is None else self.exited.signal

    def chunks(self) -> list[Output]:
        return [e for e in self.events if isinstance(e, Output)]

    async def until(self, done: Callable[[Collector], bool]) -> None:
        """Consume events until ``done(self)``; AssertionError if the stream ends first."""
        if done(self):
            return
        async for event in self.proc.events:
            self.events.append(event)
            match event:
                case Output(stream="stdout", data=data):
                    self.stdout += data
                case Output(stream="stderr", data=data):
                    self.stderr += data
                case Output(stream="pty", data=data):
                    self.pty += data
                case Exited():
                    self.exited = event
                case Closed():
                    self.closed = event
                case Gap() | Failed():
                    raise AssertionError(f"unexpected {event!r}")
            if done(self):
                return
        raise AssertionError(f"stream ended before the condition held; saw {self.events!r}")

    async def until_output(self, needle: bytes) -> None:
        """Until ``needle`` appears in the output (any stream, seq order)."""
        await self.until(lambda c: needle in c.output)

    async def finish(self) -> Collector:
        """Until ``Closed``."""
        await self.until(lambda c: c.closed is not None)
        return self

    def assert_contiguous(self) -> None:
        """Seqs are exactly 1..N, closed last."""
        seqs = [e.seq for e in self.events if isinstance(e, Output | Exited | Closed)]
        assert seqs == list(range(1, len(seqs) + 1)), seqs
        if self.closed is not None:
            assert self.events[-1] == self.closed


# -- processes outside our control: state and death ----------------------------


def proc_state(pid: int) -> str | None:
    """The one-letter state of ``pid`` from /proc, or None once it is reaped."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return stat.rsplit(")", 1)[1].split()[0]


def children_of(pid: int) -> dict[int, str]:
    """Every process whose parent is ``pid``, with its state letter; not the server's
    death watch process."""
    children: dict[int, str] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            command = Path(f"/proc/{entry}/cmdline").read_bytes()
        except (FileNotFoundError, ProcessLookupError):
            continue
        if int(fields[1]) == pid and str(WATCHER_SCRIPT).encode() not in command:
            children[int(entry)] = fields[0]
    return children


@contextmanager
def pidfd_of(pid: int) -> Iterator[int]:
    """A pidfd for ``pid``, closed on exit. Open it before causing the exit you wait
    for: it keeps referring to that process even once the pid is reaped and reused."""
    pidfd = os.pidfd_open(pid)
    try:
        yield pidfd
    finally:
        os.close(pidfd)


async def wait_dead(pidfd: int) -> None:
    """Return once the process behind ``pidfd`` has terminated (zombie or reaped).

    A pidfd turns readable when its process exits: a kernel event, no polling.
    """
    await trio.lowlevel.wait_readable(pidfd)


def is_dead(pid: int) -> bool:
    """Gone, or a zombie nobody has reaped yet (it can run no more)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return proc_state(pid) in (None, "Z", "X")
