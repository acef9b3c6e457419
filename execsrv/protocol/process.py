"""Process payloads: ``process/*`` requests, results and notifications.

Names follow the reference's Rust types, because its ``-32602`` messages name
them (``invalid type: null, expected struct ReadParams``). Fields marked
*extension* are execsrv additions (DESIGN.md §1.2): optional on input,
additive on output.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from .wire import Params, Payload

__all__ = [
    "CloseStdinParams",
    "EmptyResponse",
    "EnvPolicy",
    "ExecClosedNotification",
    "ExecExitedNotification",
    "ExecOutputDeltaNotification",
    "ExecParams",
    "ExecResponse",
    "ListParams",
    "ListResponse",
    "OutputStream",
    "ProcessInfo",
    "ProcessOutputChunk",
    "PtySize",
    "ReadParams",
    "ReadResponse",
    "ResizeParams",
    "SignalName",
    "SignalParams",
    "TerminateParams",
    "TerminateResponse",
    "WriteParams",
    "WriteResponse",
    "WriteStatus",
]

U64 = Annotated[int, msgspec.Meta(ge=0, extra={"rust": "u64"})]
USize = Annotated[int, msgspec.Meta(ge=0, extra={"rust": "usize"})]
U16 = Annotated[int, msgspec.Meta(ge=1, le=65535, extra={"rust": "u16"})]

OutputStream = Literal["stdout", "stderr", "pty"]
WriteStatus = Literal["accepted", "unknownProcess", "stdinClosed", "starting"]
SignalName = Literal["interrupt", "terminate", "kill", "hangup", "quit", "user1", "user2"]


class EnvPolicy(Params):
    """The reference's shell-environment policy; every field is required.

    The child's environment is built from the server's own environment by this
    policy, then ``env`` is laid over it.
    """

    inherit: Literal["core", "all", "none"]
    ignore_default_excludes: bool
    exclude: list[str]
    set: dict[str, str]
    include_only: list[str]


class PtySize(Params):
    """Terminal size in character cells (extension)."""

    rows: U16
    cols: U16


class ExecParams(Params):
    """``process/start``: spawn ``argv`` in a new process group.

    ``env`` is the child's exact environment unless ``envPolicy`` is given.
    """

    process_id: str
    argv: list[str]
    cwd: Annotated[str, msgspec.Meta(extra={"rust": "path string"})]  # a PathBuf for serde
    env: dict[str, str]
    tty: bool
    pipe_stdin: bool = False
    arg0: str | None = None
    env_policy: (
        Annotated[EnvPolicy, msgspec.Meta(extra={"rust": "struct ExecEnvPolicy"})] | None
    ) = None  # the reference's type name, for -32602
    timeout_ms: U64 | None = None  # extension
    pty_size: PtySize | None = None  # extension


class ExecResponse(Payload):
    process_id: str


class ReadParams(Params):
    """``process/read``: retained output after ``afterSeq``, long-polling ``waitMs``."""

    process_id: str
    after_seq: U64 | None = None
    max_bytes: USize | None = None
    wait_ms: U64 | None = None


class ProcessOutputChunk(Payload):
    seq: int
    stream: OutputStream
    chunk: bytes


class ReadResponse(Payload):
    """Retained output and exit state.

    ``nextSeq`` follows the reference: the last returned chunk's seq + 1 when
    chunks are returned, else the process's next unassigned seq.
    """

    chunks: list[ProcessOutputChunk]
    next_seq: int
    exited: bool
    exit_code: int | None
    closed: bool
    failure: str | None = None
    truncated: bool = False  # extension: output after afterSeq was evicted
    exit_seq: int | None = None  # extension
    closed_seq: int | None = None  # extension


class WriteParams(Params):
    process_id: str
    chunk: bytes


class WriteResponse(Payload):
    status: WriteStatus


class TerminateParams(Params):
    process_id: str


class TerminateResponse(Payload):
    """``running``: the process had not exited, and a kill was issued."""

    running: bool


class SignalParams(Params):
    """``process/signal`` (extension): deliver a signal to the process group."""

    process_id: str
    signal: SignalName


class ResizeParams(Params):
    """``process/resize`` (extension): set a PTY's size; the child sees SIGWINCH."""

    process_id: str
    rows: U16
    cols: U16


class CloseStdinParams(Params):
    """``process/closeStdin`` (extension): send EOF on stdin."""

    process_id: str


class ListParams(Params):
    """``process/list`` (extension): no fields."""


class EmptyResponse(Payload):
    """``{}``."""


class ProcessInfo(Payload):
    process_id: str
    argv: list[str]
    tty: bool
    running: bool
    exit_code: int | None


class ListResponse(Payload):
    processes: list[ProcessInfo]


class ExecOutputDeltaNotification(Payload):
    """``process/output``: one chunk of output with its seq."""

    process_id: str
    seq: int
    stream: OutputStream
    chunk: bytes


class ExecExitedNotification(Payload):
    """``process/exited``: -1 for a signal death in pipe mode, 1 in PTY mode."""

    process_id: str
    seq: int
    exit_code: int
    signal: str | None = None  # extension, e.g. "SIGKILL"


class ExecClosedNotification(Payload):
    """``process/closed``: the last event of a process (exited and all streams at EOF)."""

    process_id: str
    seq: int
