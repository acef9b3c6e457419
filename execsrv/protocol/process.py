"""Process payloads: ``process/*`` requests, results and notifications.

Names follow the reference's Rust types, because its ``-32602`` messages name
them (``invalid type: null, expected struct ReadParams``). Fields marked
*extension* are execsrv additions (DESIGN.md §1.2): optional on input,
additive on output.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from .generation import Generation, of_path_form
from .paths import check_wire_path
from .wire import U64, NonZeroU16, Params, Payload, USize

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


OutputStream = Literal["stdout", "stderr", "pty"]
WriteStatus = Literal["accepted", "unknownProcess", "stdinClosed", "starting"]
SignalName = Literal["interrupt", "terminate", "kill", "hangup", "quit", "user1", "user2"]

# Field descriptions live in the types (``Meta(description=...)``); an execsrv
# extension field (DESIGN.md §1.2) also carries ``Meta(extra={"extension": True})``.
# ``tools/gen_protocol.py`` builds protocol.md's field tables from both.
ProcessId = Annotated[
    str, msgspec.Meta(description="The client-chosen process id; scoped to the session.")
]
Seq = Annotated[
    int,
    msgspec.Meta(description="The event's number: output, exited and closed share one counter."),
]
Rows = Annotated[NonZeroU16, msgspec.Meta(description="Terminal height in character rows.")]
Cols = Annotated[NonZeroU16, msgspec.Meta(description="Terminal width in character columns.")]


class EnvPolicy(Params):
    """The reference's shell-environment policy; every field is required.

    The child's environment is built from the server's own environment by this
    policy, then ``env`` is laid over it.
    """

    inherit: Annotated[
        Literal["core", "all", "none"],
        msgspec.Meta(
            description="Start from all of the server's variables, the core set "
            "(HOME, LANG, LOGNAME, PATH, SHELL, TEMP, TMP, TMPDIR, USER, USERNAME) or none."
        ),
    ]
    ignore_default_excludes: Annotated[
        bool, msgspec.Meta(description="Keep names matching `*KEY*`, `*SECRET*` or `*TOKEN*`.")
    ]
    exclude: Annotated[
        list[str], msgspec.Meta(description="Drop names matching these globs (case-insensitive).")
    ]
    set: Annotated[dict[str, str], msgspec.Meta(description="Set these after the excludes.")]
    include_only: Annotated[
        list[str],
        msgspec.Meta(description="If non-empty, keep only names matching these globs."),
    ]


class PtySize(Params):
    """Terminal size in character cells (extension)."""

    rows: Rows
    cols: Cols


class ExecParams(Params):
    """``process/start``: spawn ``argv`` in a new process group.

    ``env`` is the child's exact environment unless ``envPolicy`` is given.
    """

    process_id: ProcessId
    argv: Annotated[
        list[str],
        msgspec.Meta(
            description="Program and arguments (not empty); `argv[0]` is found on the child's PATH."
        ),
    ]
    cwd: Annotated[
        str,
        msgspec.Meta(
            description="Working directory: a path (a relative one is relative to the "
            "server's cwd) or a `file:` URI.",
            extra={"rust": "path string"},  # a PathBuf: serde says `expected path string`
        ),
    ]
    env: Annotated[
        dict[str, str],
        msgspec.Meta(
            description="The child's exact environment; with `envPolicy`, laid over its result."
        ),
    ]
    tty: Annotated[
        bool, msgspec.Meta(description="Run on a PTY: one `pty` stream, stdin writable.")
    ]
    pipe_stdin: Annotated[
        bool,
        msgspec.Meta(
            description="Without `tty`: stdin is a pipe for `process/write`; false: /dev/null."
        ),
    ] = False
    arg0: Annotated[str | None, msgspec.Meta(description="What the child sees as `argv[0]`.")] = (
        None
    )
    env_policy: Annotated[
        EnvPolicy | None,
        msgspec.Meta(
            description="Build the environment from the server's own, then lay `env` over it.",
            extra={"rust": "struct ExecEnvPolicy"},  # the reference's type name, for -32602
        ),
    ] = None
    timeout_ms: Annotated[
        U64 | None,
        msgspec.Meta(
            description="After this many ms the group gets SIGTERM, a grace period, SIGKILL.",
            extra={"extension": True},
        ),
    ] = None
    pty_size: Annotated[
        PtySize | None,
        msgspec.Meta(
            description="Initial PTY size; default 24 rows, 80 columns.", extra={"extension": True}
        ),
    ] = None

    def check_params(self) -> None:
        """``-32602`` for a ``file:`` URI ``cwd`` 0.171 cannot parse (see ParamsDecoder)."""
        check_wire_path(self.cwd, relative=True)

    def generation(self) -> Generation | None:
        """A URI ``cwd`` makes a 0.171 process; a plain one a 0.130 process."""
        return of_path_form(self.cwd)


class ExecResponse(Payload):
    process_id: ProcessId


class ReadParams(Params):
    """``process/read``: retained output after ``afterSeq``, long-polling ``waitMs``."""

    process_id: ProcessId
    after_seq: Annotated[
        U64 | None, msgspec.Meta(description="Return chunks with a greater seq; null means 0.")
    ] = None
    max_bytes: Annotated[
        USize | None,
        msgspec.Meta(description="Byte budget; the first chunk always fits. Null: unlimited."),
    ] = None
    wait_ms: Annotated[
        U64 | None,
        msgspec.Meta(description="Long-poll up to this many ms if nothing is new; null means 0."),
    ] = None


class ProcessOutputChunk(Payload):
    seq: Seq
    stream: Annotated[OutputStream, msgspec.Meta(description="`pty` for a tty process.")]
    chunk: Annotated[bytes, msgspec.Meta(description="The output bytes, as read.")]


class ReadResponse(Payload):
    """Retained output and exit state.

    ``nextSeq`` follows the reference: the last returned chunk's seq + 1 when
    chunks are returned, else the process's next unassigned seq.
    """

    chunks: Annotated[
        list[ProcessOutputChunk],
        msgspec.Meta(
            description="Retained chunks with seq > `afterSeq`, oldest first, within `maxBytes`."
        ),
    ]
    next_seq: Annotated[
        int, msgspec.Meta(description="The `afterSeq` for the next read (see the quirk).")
    ]
    exited: Annotated[bool, msgspec.Meta(description="The exit code is known.")]
    exit_code: Annotated[int | None, msgspec.Meta(description="The exit code, once exited.")]
    closed: Annotated[
        bool,
        msgspec.Meta(description="The `process/closed` event happened: nothing more will come."),
    ]
    failure: Annotated[str | None, msgspec.Meta(description="Always null from the server.")] = None
    truncated: Annotated[
        bool,
        msgspec.Meta(
            description="Output after `afterSeq` was evicted by retention: a gap.",
            extra={"extension": True},
        ),
    ] = False
    exit_seq: Annotated[
        int | None,
        msgspec.Meta(
            description="The seq of the `process/exited` event, once exited.",
            extra={"extension": True},
        ),
    ] = None
    closed_seq: Annotated[
        int | None,
        msgspec.Meta(
            description="The seq of the `process/closed` event, once closed.",
            extra={"extension": True},
        ),
    ] = None


class WriteParams(Params):
    process_id: ProcessId
    chunk: Annotated[bytes, msgspec.Meta(description="Bytes for stdin; may be empty.")]
    write_id: Annotated[
        str | None,
        msgspec.Meta(
            description="codex 0.171 requires it (a non-empty id, e.g. a per-process "
            "counter); 0.130 has no such field."
        ),
    ] = None


class WriteResponse(Payload):
    status: Annotated[
        WriteStatus, msgspec.Meta(description="The outcome: a status, never a JSON-RPC error.")
    ]


class TerminateParams(Params):
    process_id: ProcessId


class TerminateResponse(Payload):
    """``process/terminate``: whether a kill was issued."""

    running: Annotated[
        bool, msgspec.Meta(description="It had not exited, and its group got SIGKILL.")
    ]


class SignalParams(Params):
    """``process/signal`` (extension): deliver a signal to the process group."""

    process_id: ProcessId
    signal: Annotated[
        SignalName,
        msgspec.Meta(description="SIGINT, SIGTERM, SIGKILL, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2."),
    ]


class ResizeParams(Params):
    """``process/resize`` (extension): set a PTY's size; the child sees SIGWINCH."""

    process_id: ProcessId
    rows: Rows
    cols: Cols


class CloseStdinParams(Params):
    """``process/closeStdin`` (extension): send EOF on stdin."""

    process_id: ProcessId


class ListParams(Params):
    """``process/list`` (extension): no fields."""


class EmptyResponse(Payload):
    """``{}``."""


class ProcessInfo(Payload):
    process_id: ProcessId
    argv: Annotated[list[str], msgspec.Meta(description="As given to `process/start`.")]
    tty: Annotated[bool, msgspec.Meta(description="Runs on a PTY.")]
    running: Annotated[bool, msgspec.Meta(description="Not exited yet.")]
    exit_code: Annotated[int | None, msgspec.Meta(description="The exit code, once exited.")]


class ListResponse(Payload):
    processes: Annotated[
        list[ProcessInfo],
        msgspec.Meta(description="Every process of the session, exited ones until forgotten."),
    ]


class ExecOutputDeltaNotification(Payload):
    """``process/output``: one chunk of output with its seq."""

    process_id: ProcessId
    seq: Seq
    stream: Annotated[OutputStream, msgspec.Meta(description="`pty` for a tty process.")]
    chunk: Annotated[bytes, msgspec.Meta(description="The output bytes, as read.")]


class ExecExitedNotification(Payload):
    """``process/exited``: -1 for a signal death in pipe mode, 1 in PTY mode."""

    process_id: ProcessId
    seq: Seq
    exit_code: Annotated[
        int, msgspec.Meta(description="The exit status, or -1 (pipe) / 1 (PTY) for a signal.")
    ]
    signal: Annotated[
        str | None,
        msgspec.Meta(
            description="The signal that killed it, e.g. SIGKILL; else null.",
            extra={"extension": True},
        ),
    ] = None


class ExecClosedNotification(Payload):
    """``process/closed``: the last event of a process (exited and all streams at EOF)."""

    process_id: ProcessId
    seq: Seq
