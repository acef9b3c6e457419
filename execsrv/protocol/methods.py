"""The method table: every request and notification with its wire types.

This table is what the server dispatches on, what the client decodes results
with, and what ``protocol.md`` is generated from, so the three cannot drift.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from . import process, session
from .params import ParamsDecoder
from .wire import Payload

__all__ = ["METHODS", "NOTIFICATIONS", "MethodSpec", "NotificationSpec"]


@dataclass(frozen=True)
class MethodSpec:
    """One client → server request."""

    name: str
    params: type[Any]
    result: type[Payload]
    summary: str
    extension: bool = False
    ordered: bool = False  # takes effect in arrival order for its process
    decoder: ParamsDecoder[Any] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "decoder", ParamsDecoder(self.params))


@dataclass(frozen=True)
class NotificationSpec:
    """One notification; ``direction`` is ``"server"`` for server → client."""

    name: str
    params: type[Any] | None
    direction: str
    summary: str


_METHOD_LIST: Final = [
    MethodSpec(
        "initialize",
        session.InitializeParams,
        session.InitializeResponse,
        "Open a session (or resume one); once per connection.",
    ),
    MethodSpec(
        "process/start",
        process.ExecParams,
        process.ExecResponse,
        "Spawn a process in its own process group.",
        ordered=True,
    ),
    MethodSpec(
        "process/read",
        process.ReadParams,
        process.ReadResponse,
        "Read retained output after a seq, optionally long-polling.",
    ),
    MethodSpec(
        "process/write",
        process.WriteParams,
        process.WriteResponse,
        "Write bytes to a process's stdin (PTY or pipeStdin).",
        ordered=True,
    ),
    MethodSpec(
        "process/terminate",
        process.TerminateParams,
        process.TerminateResponse,
        "SIGKILL the process group.",
        ordered=True,
    ),
    MethodSpec(
        "process/signal",
        process.SignalParams,
        process.EmptyResponse,
        "Deliver a signal to the process group.",
        extension=True,
        ordered=True,
    ),
    MethodSpec(
        "process/resize",
        process.ResizeParams,
        process.EmptyResponse,
        "Resize a PTY process's terminal.",
        extension=True,
        ordered=True,
    ),
    MethodSpec(
        "process/closeStdin",
        process.CloseStdinParams,
        process.WriteResponse,
        "Close a process's stdin (EOF).",
        extension=True,
        ordered=True,
    ),
    MethodSpec(
        "process/list",
        process.ListParams,
        process.ListResponse,
        "List the session's processes.",
        extension=True,
    ),
]

METHODS: Final[dict[str, MethodSpec]] = {spec.name: spec for spec in _METHOD_LIST}

NOTIFICATIONS: Final[dict[str, NotificationSpec]] = {
    spec.name: spec
    for spec in [
        NotificationSpec(
            "initialized", None, "client", "Completes the handshake; params are ignored."
        ),
        NotificationSpec(
            "process/output",
            process.ExecOutputDeltaNotification,
            "server",
            "A chunk of output.",
        ),
        NotificationSpec(
            "process/exited", process.ExecExitedNotification, "server", "The process exited."
        ),
        NotificationSpec(
            "process/closed",
            process.ExecClosedNotification,
            "server",
            "Exited and every stream at EOF; the last event.",
        ),
    ]
}
