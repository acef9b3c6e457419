"""The process domain's errors: what went wrong, in the reference's words.

Raised by this package (:class:`SpawnFailed`, :class:`NotATerminal`) and by
whoever keeps a table of processes (the server's ``process/*`` handlers, the
local backend). Each boundary translates them once: the server into JSON-RPC
errors (:mod:`execsrv.server.errors`), the local backend into the client's
error types (:mod:`execsrv.backend.errors`). ``str(error)`` is the message
clients see, byte for byte.
"""

from __future__ import annotations

__all__ = [
    "EmptyArgv",
    "NotATerminal",
    "ProcessError",
    "ProcessIdTaken",
    "ProcessLimitReached",
    "ProcessStarting",
    "SpawnFailed",
    "UnknownProcess",
]


class ProcessError(Exception):
    """Base of the process errors; ``message`` is the text to show."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class SpawnFailed(ProcessError):
    """The OS could not start the child; ``message`` is its error, as the reference
    renders it (``No such file or directory (os error 2)``). ``kind`` is codex 0.171's
    classification (``spawnNotFound``, ``spawnPermissionDenied``, ``spawnFailed``) for a
    process started by a 0.171 request, None for a 0.130 one (whose error has no data)."""

    def __init__(self, message: str, *, kind: str | None = None) -> None:
        super().__init__(message)
        self.kind = kind


class EmptyArgv(ProcessError):
    """A start request without a program: the request itself is malformed."""

    def __init__(self) -> None:
        super().__init__("argv must not be empty")


class ProcessIdTaken(ProcessError):
    """A start request with the id of a process that is still known."""

    def __init__(self, process_id: str) -> None:
        super().__init__(f"process {process_id} already exists")
        self.process_id = process_id


class ProcessLimitReached(ProcessError):
    """A start request while ``limit`` processes are running."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"process limit reached ({limit})")
        self.limit = limit


class UnknownProcess(ProcessError):
    """No process has this id (never started, or forgotten)."""

    def __init__(self, process_id: str) -> None:
        super().__init__(f"unknown process id {process_id}")
        self.process_id = process_id


class ProcessStarting(ProcessError):
    """The process with this id is still being spawned."""

    def __init__(self, process_id: str) -> None:
        super().__init__(f"process id {process_id} is starting")
        self.process_id = process_id


class NotATerminal(ProcessError):
    """A resize of a process that runs on pipes, not on a PTY."""

    def __init__(self, process_id: str) -> None:
        super().__init__(f"process {process_id} is not a tty")
        self.process_id = process_id
