"""Process payloads: ``process/*`` requests, results and notifications.

Names follow the reference's Rust types, because its ``-32602`` messages name
them (``invalid type: null, expected struct ReadParams``). Fields marked
*extension* are execsrv additions (DESIGN.md §1.2): optional on input,
additive on output.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Final, Literal

import msgspec
from msgspec import UnsetType

from .errors import MalformedParams, RpcError
from .fs import (
    ExternalPermissions,
    FileSystemSandboxContext,
    LegacyPermissions,
    ManagedPermissions,
    PermissionProfile,
    requires_platform_sandbox,
)
from .generation import Generation, of_path_form
from .params import ParamsDecoder
from .paths import check_wire_path
from .uuids import parse_uuid
from .wire import U64, EmptyResponse, NonZeroU16, Params, Payload, USize

__all__ = [
    "CloseStdinParams",
    "EmptyResponse",
    "EnvPolicy",
    "ExecClosedNotification",
    "ExecExitedNotification",
    "ExecMetadata",
    "ExecOutputDeltaNotification",
    "ExecParams",
    "ExecResponse",
    "ListParams",
    "ListResponse",
    "ManagedNetworkSandboxContext",
    "OutputStream",
    "ProcessInfo",
    "ProcessOutputChunk",
    "PtySize",
    "ReadParams",
    "ReadResponse",
    "RemoteNetworkProxyLaunchConfig",
    "ResizeParams",
    "SandboxType",
    "ShellInfo",
    "ShellSnapshotRequest",
    "SignalName",
    "SignalParams",
    "StartOptions",
    "TerminateParams",
    "TerminateResponse",
    "WriteParams",
    "WriteResponse",
    "WriteStatus",
    "confines_process",
    "parse_exec_metadata",
    "restricts_network",
]


OutputStream = Literal["stdout", "stderr", "pty"]
WriteStatus = Literal["accepted", "unknownProcess", "stdinClosed", "starting"]
SignalName = Literal["interrupt", "terminate", "kill", "hangup", "quit", "user1", "user2"]
"""``interrupt`` is codex 0.171's one signal; the others are execsrv extensions."""
SandboxType = Literal[
    "none", "macosSeatbelt", "linuxSeccomp", "windowsRestrictedToken", "windowsMxc"
]

WRITE_ID_EMPTY: Final = "writeId must not be empty"
"""codex 0.171's ``-32602`` for ``process/write`` with ``writeId: ""``."""

SANDBOXED_PROCESS_UNSUPPORTED: Final = (
    "sandboxed processes are not supported by execsrv: these permissions restrict the "
    "file system or the network, and execsrv has no sandbox to enforce them"
)
"""``-32600`` for a ``process/start`` whose ``sandbox`` would confine the child."""

UNREADABLE_CONFINEMENT: Final = (
    "process/start asks for confinement execsrv cannot read (`{field}`), so the process "
    "was not started"
)
"""``-32600`` for a 0.130 ``process/start`` carrying a 0.171 confinement field
(``sandbox``, ``managedNetwork``, …) that does not decode: refused, never ignored."""

MANAGED_NETWORK_UNSUPPORTED: Final = (
    "managed networking is not supported by execsrv: enforceManagedNetwork and "
    "networkProxy cannot be enforced, so the process was not started"
)
"""``-32600`` for a ``process/start`` with ``enforceManagedNetwork: true`` or a
``networkProxy``: failing closed, never running the child unconfined."""

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


class ExecMetadata(msgspec.Struct, kw_only=True):
    """``process/start`` ``metadata`` (codex 0.171), as checked by :func:`parse_exec_metadata`."""

    thread_id: str | None = None
    """The ``threadId`` UUID, hyphenated and lower-case (as codex passes it on)."""
    tool_call_id: str | None = None

    def child_env(self) -> dict[str, str]:
        """What codex 0.171 adds to the child's environment for it, over ``env`` and
        ``envPolicy``: ``CODEX_THREAD_ID`` and ``CODEX_TOOL_CALL_ID``, each when given."""
        env = {}
        if self.thread_id is not None:
            env["CODEX_THREAD_ID"] = self.thread_id
        if self.tool_call_id is not None:
            env["CODEX_TOOL_CALL_ID"] = self.tool_call_id
        return env


def parse_exec_metadata(value: Any) -> ExecMetadata | None:
    """Check a ``metadata`` value as codex 0.171 does, with its ``-32602`` texts.

    An object (unknown members ignored) or an array ``[threadId, toolCallId]``
    of at most two; ``threadId`` a UUID (:func:`~.uuids.parse_uuid`),
    ``toolCallId`` a string, each optional or null.
    """
    if value is None:
        return None
    if isinstance(value, dict):
        thread_id, tool_call_id = value.get("threadId"), value.get("toolCallId")
    elif isinstance(value, list):
        if len(value) > 2:
            raise RpcError.invalid_params(
                f"invalid length {len(value)}, expected fewer elements in array"
            )
        thread_id, tool_call_id = (*value, None, None)[:2]
    else:
        raise RpcError.invalid_params(
            f"invalid type: {_unexpected(value)}, expected struct ExecMetadata"
        )
    for member in (thread_id, tool_call_id):
        if member is not None and not isinstance(member, str):
            raise RpcError.invalid_params(f"invalid type: {_unexpected(member)}, expected a string")
    if thread_id is not None:
        thread_id = str(parse_uuid(thread_id))
    return ExecMetadata(thread_id=thread_id, tool_call_id=tool_call_id)


def _unexpected(value: Any) -> str:
    """serde's name for a JSON value, as codex 0.171 words it (a number is ``number``)."""
    match value:
        case bool():
            return f"boolean `{str(value).lower()}`"
        case int() | float():
            return "number"
        case str():
            return f'string "{value}"'
        case list():
            return "sequence"
        case dict():
            return "map"
    return "null"


def restricts_network(profile: PermissionProfile) -> bool:
    """Whether a process started with this profile may open only ``AF_UNIX`` sockets:
    a ``restricted`` network, or a legacy profile that does not enable it."""
    match profile:
        case ManagedPermissions(network="restricted") | ExternalPermissions(network="restricted"):
            return True
        case LegacyPermissions(network=network):
            return network is None or network.enabled is not True
    return False


def confines_process(profile: PermissionProfile) -> bool:
    """Whether codex 0.171 would confine a process started with this profile: a
    restricted file system (as for ``fs/*``, :func:`~.fs.requires_platform_sandbox`)
    or a restricted network (its seccomp filter refuses sockets). A disabled,
    external or managed profile that restricts neither runs unconfined there too."""
    return restricts_network(profile) or requires_platform_sandbox(profile)


class ShellInfo(Params):
    """A shell: its name (``bash``) and executable path."""

    name: str
    path: str


class ShellSnapshotRequest(Params):
    """``process/start`` ``shellSnapshot`` (codex 0.171): restore cached shell state.

    Checked, not used: execsrv keeps no shell snapshots and does not advertise
    ``shellSnapshotV2``, so the command runs as it would without it.
    """

    scope_id: str
    shell: ShellInfo


class ManagedNetworkSandboxContext(Params):
    """``process/start`` ``managedNetwork`` (codex 0.171): loopback ports and local binding
    allowed under managed networking. Checked; execsrv enforces no managed network."""

    loopback_ports: list[Annotated[int, msgspec.Meta(ge=0, le=65535)]] = msgspec.field(
        default_factory=list
    )
    allow_local_binding: bool = False


class RemoteNetworkProxyLaunchConfig(Params):
    """``process/start`` ``networkProxy`` (codex 0.171): how to start a managed-network
    proxy. execsrv has none, so a start that asks for one is refused (``-32600``)."""

    proxy: Any


class StartOptions(msgspec.Struct, kw_only=True):
    """What ``process/start``'s codex 0.171 fields ask for (see ``ExecParams.codex_0171``)."""

    metadata: ExecMetadata | None
    sandbox: FileSystemSandboxContext | None
    enforce_managed_network: bool
    network_proxy: bool
    """A ``networkProxy`` was given."""


def _struct(decoder: ParamsDecoder[Any], rust_name: str) -> Callable[[Any, Generation], Any]:
    """Decode a nested struct value as serde does, with codex 0.171's texts; its own
    checks (a ``sandbox`` profile's form) are ``generation``'s."""

    def decode(value: Any, generation: Generation) -> Any:
        if value is None or value is msgspec.UNSET:
            return None
        if not isinstance(value, dict):
            raise RpcError.invalid_params(
                f"invalid type: {_unexpected(value)}, expected struct {rust_name}"
            )
        try:
            return decoder.decode(msgspec.Raw(msgspec.json.encode(value)), generation)
        except MalformedParams as error:
            raise RpcError.invalid_params(str(error)) from None

    return decode


def _boolean(value: Any, generation: Generation) -> bool | None:
    if value is msgspec.UNSET:
        return None
    if not isinstance(value, bool):
        raise RpcError.invalid_params(f"invalid type: {_unexpected(value)}, expected a boolean")
    return value


_CODEX_0171_FIELDS: Final[dict[str, Callable[[Any, Generation], Any]]] = {
    "metadata": lambda value, _: parse_exec_metadata(value),
    "sandbox": _struct(ParamsDecoder(FileSystemSandboxContext), "WireFileSystemSandboxContext"),
    "shell_snapshot": _struct(ParamsDecoder(ShellSnapshotRequest), "ShellSnapshotRequest"),
    "enforce_managed_network": _boolean,
    "managed_network": _struct(
        ParamsDecoder(ManagedNetworkSandboxContext), "ManagedNetworkSandboxContext"
    ),
    "network_proxy": _struct(
        ParamsDecoder(RemoteNetworkProxyLaunchConfig), "RemoteNetworkProxyLaunchConfig"
    ),
}
"""How each codex 0.171 ``process/start`` field is checked, in its declaration order."""

_CONFINEMENT_FIELDS: Final = frozenset(
    {"sandbox", "enforce_managed_network", "managed_network", "network_proxy"}
)
"""The fields that ask for confinement: one that does not decode is refused, not ignored."""


class ExecParams(Params):
    """``process/start``: spawn ``argv`` in a new process group.

    ``env`` is the child's exact environment unless ``envPolicy`` is given;
    ``metadata`` (codex 0.171) adds ``CODEX_THREAD_ID`` / ``CODEX_TOOL_CALL_ID``
    over both. What sandboxes or confines the child is refused with ``-32600``
    rather than run unconfined: a ``sandbox`` that restricts the file system or
    the network, ``enforceManagedNetwork: true`` and a ``networkProxy``.
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
    arg0: Annotated[
        str | None,
        msgspec.Meta(
            description="What the child sees as `argv[0]`. One whose file name is "
            "`codex-linux-sandbox` (without `arg0`: such an `argv[0]`) makes a codex 0.130 "
            "wrapped command, run under execsrv's own sandbox (see `process/start`)."
        ),
    ] = None
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
    # codex 0.171's fields, kept undecoded: 0.130 ignores them as unknown fields, so
    # they are checked (-32602) only in a 0.171 request (see `codex_0171`).
    metadata: Annotated[
        Any,
        msgspec.Meta(
            description="ExecMetadata `{threadId?: UUID, toolCallId?: string}` or null "
            "(codex 0.171): sets `CODEX_THREAD_ID` / `CODEX_TOOL_CALL_ID` in the child's "
            "environment, over `env` and `envPolicy`."
        ),
    ] = None
    sandbox: Annotated[
        Any,
        msgspec.Meta(
            description="FileSystemSandboxContext or null (codex 0.171). One that restricts "
            "the file system or the network runs the child confined (see Sandboxing); "
            "others run directly."
        ),
    ] = None
    shell_snapshot: Annotated[
        Any,
        msgspec.Meta(
            description="ShellSnapshotRequest or null (codex 0.171): checked, then ignored "
            "(execsrv keeps no shell snapshots and does not advertise them)."
        ),
    ] = None
    enforce_managed_network: Annotated[
        Any,
        msgspec.Meta(
            description="A boolean (codex 0.171); true is refused (`-32600`): execsrv has no "
            "managed network and never runs the child unconfined."
        ),
    ] = msgspec.UNSET
    managed_network: Annotated[
        Any,
        msgspec.Meta(
            description="ManagedNetworkSandboxContext or null (codex 0.171): checked; "
            "only meaningful with `enforceManagedNetwork`."
        ),
    ] = None
    network_proxy: Annotated[
        Any,
        msgspec.Meta(
            description="RemoteNetworkProxyLaunchConfig or null (codex 0.171); one is refused "
            "(`-32600`): execsrv starts no network proxy."
        ),
    ] = None

    def check_params(self, generation: Generation) -> None:
        """``-32602`` for a ``file:`` URI ``cwd`` 0.171 cannot parse, and, in a 0.171
        request, for codex 0.171's fields as it checks them (see ParamsDecoder)."""
        check_wire_path(self.cwd, relative=True)
        if self.generation() is Generation.V0_171:
            self.codex_0171(strict=True)

    def codex_0171(self, *, strict: bool) -> StartOptions:
        """codex 0.171's fields, decoded. ``strict`` (a 0.171 request): a malformed one
        is ``-32602`` with 0.171's text. Otherwise (a 0.130 request, to which they are
        unknown fields) ``metadata`` and ``shellSnapshot`` are ignored when malformed, but
        a confinement request counts: a well-formed one is refused, and one that does
        not decode is refused too (``-32600``), never ignored (fail closed)."""
        decoded: dict[str, Any] = {}
        generation = Generation.V0_171 if strict else Generation.V0_130
        for name, decode in _CODEX_0171_FIELDS.items():
            value = getattr(self, name)
            try:
                decoded[name] = decode(value, generation)
            except RpcError:
                if strict:
                    raise
                if name in _CONFINEMENT_FIELDS and value is not None and value is not msgspec.UNSET:
                    fields = msgspec.structs.fields(self)
                    wire_name = next(f.encode_name for f in fields if f.name == name)
                    raise RpcError.invalid_request(
                        UNREADABLE_CONFINEMENT.format(field=wire_name)
                    ) from None
                decoded[name] = None
        return StartOptions(
            metadata=decoded["metadata"] if strict else None,
            sandbox=decoded["sandbox"],
            enforce_managed_network=bool(decoded["enforce_managed_network"]),
            network_proxy=decoded["network_proxy"] is not None,
        )

    def generation(self) -> Generation | None:
        """A URI ``cwd`` makes a 0.171 process; a plain one a 0.130 process."""
        return of_path_form(self.cwd)


class ExecResponse(Payload):
    process_id: ProcessId
    sandbox_type: Annotated[
        SandboxType | UnsetType,
        msgspec.Meta(
            description="`linuxSeccomp` for a confined child, else `none`; only in the "
            "answer to a codex 0.171 request."
        ),
    ] = msgspec.UNSET


class ReadParams(Params):
    """``process/read``: retained output after ``afterSeq``, long-polling ``waitMs``.

    A read also tells the server that this client builds the process's output from
    reads (as the codex 0.130 harness does, using notifications only as wake-ups):
    from then on, output it has not read is not evicted, and the child is held back
    on its pipe or terminal instead, retention staying within its budget. If no read
    comes for ``--reader-timeout`` (2 s) while the child is held, eviction resumes
    until the next read; it then says ``truncated`` as usual.
    """

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

    ``nextSeq`` follows codex: the last returned chunk's seq + 1 when chunks are
    returned, else the process's next unassigned seq; for a process started by a
    codex 0.171 request read with ``maxBytes`` null or absent, always the next
    unassigned seq (0.171's rule: it counts exit and close).
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
    sandbox_denied: Annotated[
        bool | UnsetType,
        msgspec.Meta(
            description="A confined child failed on a denial (see Sandboxing); only for a "
            "process started by a codex 0.171 request."
        ),
    ] = msgspec.UNSET
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
    """``process/write``; ``writeId`` (codex 0.171) makes a retry safe.

    A ``writeId`` the process has accepted before is answered ``accepted`` without
    writing again, also after a resume; each process remembers its 4096 most
    recent accepted ids. Without ``writeId`` (codex 0.130) every write is written.
    """

    process_id: ProcessId
    chunk: Annotated[bytes, msgspec.Meta(description="Bytes for stdin; may be empty.")]
    write_id: Annotated[
        str | None,
        msgspec.Meta(
            description="Not empty; a repeated id is acknowledged, not written again "
            "(codex 0.171 requires it; execsrv also takes writes without it)."
        ),
    ] = None

    def check_params(self, generation: Generation) -> None:
        """``-32602`` for an empty ``writeId`` (see ParamsDecoder)."""
        if self.write_id == "":
            raise RpcError.invalid_params(WRITE_ID_EMPTY)

    def generation(self) -> Generation | None:
        """A ``writeId`` is 0.171's; without one a write fits both."""
        return Generation.V0_171 if self.write_id is not None else None


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
    """``process/signal``: deliver a signal to the process group.

    codex 0.171 has it with ``interrupt`` (SIGINT) alone; the other names are
    execsrv extensions. Asked as 0.171 (a 0.171 session), an unknown or exited
    process answers ``{}`` as codex does; asked as 0.130 (execsrv's extension),
    an unknown process is ``-32600 unknown process id <id>``.
    """

    process_id: ProcessId
    signal: Annotated[
        SignalName,
        msgspec.Meta(
            description="`interrupt` (SIGINT; codex 0.171); extensions: `terminate`, `kill`, "
            "`hangup`, `quit`, `user1`, `user2` (SIGTERM, SIGKILL, SIGHUP, SIGQUIT, "
            "SIGUSR1, SIGUSR2)."
        ),
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
    """``process/exited``: a signal death in pipe mode is 128+N for a process started
    by a codex 0.171 request and -1 for one started by a 0.130 request; 1 in PTY mode."""

    process_id: ProcessId
    seq: Seq
    exit_code: Annotated[
        int,
        msgspec.Meta(
            description="The exit status; for a signal 128+N (0.171) or -1 (0.130) on pipes, "
            "1 on a PTY."
        ),
    ]
    signal: Annotated[
        str | None,
        msgspec.Meta(
            description="The signal that killed it, e.g. SIGKILL; else null.",
            extra={"extension": True},
        ),
    ] = None
    sandbox_denied: Annotated[
        bool | UnsetType,
        msgspec.Meta(
            description="A confined child failed on a denial (see Sandboxing); only for a "
            "process started by a codex 0.171 request."
        ),
    ] = msgspec.UNSET


class ExecClosedNotification(Payload):
    """``process/closed``: the last event of a process (exited and all streams at EOF)."""

    process_id: ProcessId
    seq: Seq
