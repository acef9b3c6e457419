"""The method table: every request and notification with its wire types.

This table is what the server dispatches on, what the client decodes results
with, and what ``protocol.md`` is generated from, so the three cannot drift.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from . import fs, process, session
from . import http as http_types
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
        "SIGKILL the process group and every descendant.",
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
    MethodSpec(
        "http/request",
        http_types.HttpRequestParams,
        http_types.HttpRequestResponse,
        "Make an HTTP(S) request from the server; optionally stream the body.",
    ),
    MethodSpec(
        "fs/readFile",
        fs.FsReadFileParams,
        fs.FsReadFileResponse,
        "Read a whole file (at most 512 MiB).",
    ),
    MethodSpec(
        "fs/writeFile",
        fs.FsWriteFileParams,
        fs.EmptyResponse,
        "Create or truncate a file with the given bytes.",
    ),
    MethodSpec(
        "fs/createDirectory",
        fs.FsCreateDirectoryParams,
        fs.EmptyResponse,
        "Create a directory (by default with its parents).",
    ),
    MethodSpec(
        "fs/getMetadata",
        fs.FsGetMetadataParams,
        fs.FsGetMetadataResponse,
        "Type, symlink flag and times of a path.",
    ),
    MethodSpec(
        "fs/readDirectory",
        fs.FsReadDirectoryParams,
        fs.FsReadDirectoryResponse,
        "List a directory's entries.",
    ),
    MethodSpec(
        "fs/remove",
        fs.FsRemoveParams,
        fs.EmptyResponse,
        "Remove a file, symlink or directory (by default recursively).",
    ),
    MethodSpec(
        "fs/copy",
        fs.FsCopyParams,
        fs.EmptyResponse,
        "Copy a file, symlink or directory tree.",
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
        NotificationSpec(
            "http/request/bodyDelta",
            http_types.HttpRequestBodyDeltaNotification,
            "server",
            "A piece of a streamed `http/request` body; the last has `done: true`.",
        ),
    ]
}
