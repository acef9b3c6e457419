"""The method table: one typed constant per request and per notification.

This table is what the server routes on, what the client calls with (and decodes
results by), and what ``protocol.md`` is generated from, so the three cannot
drift. Decoders are built once, here. Sans-IO: no trio.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final, Generic, Literal, TypeVar

import msgspec

from . import discovery, environment, fs, process, session
from . import http as http_types
from .generation import Generation
from .params import ParamsDecoder
from .wire import Params, Payload

__all__ = [
    "CAPABILITIES_DISCOVER_V2",
    "CAPABILITY_ROOTS_DISCOVER",
    "ENVIRONMENT_CONFIG_READ",
    "ENVIRONMENT_INFO",
    "ENVIRONMENT_STATUS",
    "FS_CANONICALIZE",
    "FS_CLOSE",
    "FS_COPY",
    "FS_CREATE_DIRECTORY",
    "FS_GET_METADATA",
    "FS_MISSING_CHANGED",
    "FS_OPEN",
    "FS_READ_BLOCK",
    "FS_READ_DIRECTORY",
    "FS_READ_FILE",
    "FS_REMOVE",
    "FS_WALK",
    "FS_WATCH_MISSING",
    "FS_WRITE_BLOCK",
    "FS_WRITE_FILE",
    "HTTP_BODY_DELTA",
    "HTTP_REQUEST",
    "HTTP_REQUEST_CANCEL",
    "INITIALIZE",
    "INITIALIZED",
    "METHODS",
    "NOTIFICATIONS",
    "PROCESS_CLOSED",
    "PROCESS_CLOSE_STDIN",
    "PROCESS_EXITED",
    "PROCESS_LIST",
    "PROCESS_OUTPUT",
    "PROCESS_READ",
    "PROCESS_RESIZE",
    "PROCESS_SIGNAL",
    "PROCESS_START",
    "PROCESS_TERMINATE",
    "PROCESS_WRITE",
    "Family",
    "Method",
    "NotificationMethod",
]

P = TypeVar("P", bound=Params)
R = TypeVar("R", bound=Payload)
N = TypeVar("N", bound=Payload)

Family = Literal[
    "exec",
    "filesystem",
    "http",
    "environment info",
    "environment status",
    "environment config",
    "capability discovery",
]
"""The family a method belongs to, as the reference names it in handshake errors
(``client must call initialize before using filesystem methods``)."""


@dataclass(frozen=True)
class Method(Generic[P, R]):
    """One client -> server request: its wire name and types, decoders built once."""

    name: str
    params: type[P]
    result: type[R]
    summary: str
    family: Family = "exec"
    extension: bool = False
    since: Generation = Generation.V0_130
    """The codex generation that added it (for a method that is not an extension)."""
    ordered: bool = False
    """Takes effect in arrival order for its process (a lane in the server)."""
    had_as_extension: bool = False
    """A ``since`` 0.171 method execsrv already served as an extension to 0.130 clients
    (``process/signal``): a request for it speaks only what its params say."""
    decoder: ParamsDecoder[P] = field(init=False, repr=False, compare=False)
    """Decodes params with the reference's rules and serde's error texts."""
    result_decoder: msgspec.json.Decoder[R] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "decoder", ParamsDecoder(self.params))
        object.__setattr__(self, "result_decoder", msgspec.json.Decoder(self.result))

    def generation_of(self, params: P) -> Generation | None:
        """The generation a request speaks on its own: 0.171 for a method only 0.171
        has, else what its params say (None when they fit both)."""
        if self.since is Generation.V0_171 and not self.had_as_extension:
            return Generation.V0_171
        return params.generation()


@dataclass(frozen=True)
class NotificationMethod(Generic[N]):
    """One notification. ``direction`` is ``"server"`` for server -> client."""

    name: str
    params: type[N] | None
    direction: Literal["server", "client"]
    summary: str
    _decoder: msgspec.json.Decoder[N] | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        decoder = None if self.params is None else msgspec.json.Decoder(self.params)
        object.__setattr__(self, "_decoder", decoder)

    def decode(self, params: bytes) -> N:
        """The typed params; raises ``msgspec.ValidationError`` if they do not fit."""
        if self._decoder is None:
            raise TypeError(f"{self.name} carries no params")
        return self._decoder.decode(params)


INITIALIZE: Final = Method(
    "initialize",
    session.InitializeParams,
    session.InitializeResponse,
    "Open a session (or resume one); once per connection.",
)

PROCESS_START: Final = Method(
    "process/start",
    process.ExecParams,
    process.ExecResponse,
    "Spawn a process in its own process group.",
    ordered=True,
)

PROCESS_READ: Final = Method(
    "process/read",
    process.ReadParams,
    process.ReadResponse,
    "Read retained output after a seq, optionally long-polling.",
)

PROCESS_WRITE: Final = Method(
    "process/write",
    process.WriteParams,
    process.WriteResponse,
    "Write bytes to a process's stdin (PTY or pipeStdin).",
    ordered=True,
)

PROCESS_TERMINATE: Final = Method(
    "process/terminate",
    process.TerminateParams,
    process.TerminateResponse,
    "SIGKILL the process group and every descendant.",
    ordered=True,
)

PROCESS_SIGNAL: Final = Method(
    "process/signal",
    process.SignalParams,
    process.EmptyResponse,
    "Deliver a signal to the process group (`interrupt`; other names are extensions).",
    since=Generation.V0_171,
    had_as_extension=True,
    ordered=True,
)

PROCESS_RESIZE: Final = Method(
    "process/resize",
    process.ResizeParams,
    process.EmptyResponse,
    "Resize a PTY process's terminal.",
    extension=True,
    ordered=True,
)

PROCESS_CLOSE_STDIN: Final = Method(
    "process/closeStdin",
    process.CloseStdinParams,
    process.WriteResponse,
    "Close a process's stdin (EOF).",
    extension=True,
    ordered=True,
)

PROCESS_LIST: Final = Method(
    "process/list",
    process.ListParams,
    process.ListResponse,
    "List the session's processes.",
    extension=True,
)

HTTP_REQUEST: Final = Method(
    "http/request",
    http_types.HttpRequestParams,
    http_types.HttpRequestResponse,
    "Make an HTTP(S) request from the server; optionally stream the body.",
    family="http",
)

HTTP_REQUEST_CANCEL: Final = Method(
    "http/request/cancel",
    http_types.HttpRequestCancelParams,
    http_types.HttpRequestCancelResponse,
    "Stop a streamed `http/request`: its download and its body frames.",
    family="http",
    extension=True,
)

FS_READ_FILE: Final = Method(
    "fs/readFile",
    fs.FsReadFileParams,
    fs.FsReadFileResponse,
    "Read a whole file (at most 512 MiB).",
    family="filesystem",
)

FS_WRITE_FILE: Final = Method(
    "fs/writeFile",
    fs.FsWriteFileParams,
    fs.EmptyResponse,
    "Create or truncate a file with the given bytes.",
    family="filesystem",
)

FS_CREATE_DIRECTORY: Final = Method(
    "fs/createDirectory",
    fs.FsCreateDirectoryParams,
    fs.EmptyResponse,
    "Create a directory (by default with its parents).",
    family="filesystem",
)

FS_GET_METADATA: Final = Method(
    "fs/getMetadata",
    fs.FsGetMetadataParams,
    fs.FsGetMetadataResponse,
    "Type, symlink flag and times of a path.",
    family="filesystem",
)

FS_READ_DIRECTORY: Final = Method(
    "fs/readDirectory",
    fs.FsReadDirectoryParams,
    fs.FsReadDirectoryResponse,
    "List a directory's entries.",
    family="filesystem",
)

FS_REMOVE: Final = Method(
    "fs/remove",
    fs.FsRemoveParams,
    fs.EmptyResponse,
    "Remove a file, symlink or directory (by default recursively).",
    family="filesystem",
)

FS_COPY: Final = Method(
    "fs/copy",
    fs.FsCopyParams,
    fs.EmptyResponse,
    "Copy a file, symlink or directory tree.",
    family="filesystem",
)

FS_CANONICALIZE: Final = Method(
    "fs/canonicalize",
    fs.FsCanonicalizeParams,
    fs.FsCanonicalizeResponse,
    "Resolve every symlink and `..` of a path.",
    family="filesystem",
    since=Generation.V0_171,
)

FS_WALK: Final = Method(
    "fs/walk",
    fs.FsWalkParams,
    fs.FsWalkResponse,
    "List a tree breadth-first, within limits.",
    family="filesystem",
    since=Generation.V0_171,
)

FS_OPEN: Final = Method(
    "fs/open",
    fs.FsOpenParams,
    fs.FsOpenResponse,
    "Open a file handle for block reads or writes (128 per connection).",
    family="filesystem",
    since=Generation.V0_171,
)

FS_READ_BLOCK: Final = Method(
    "fs/readBlock",
    fs.FsReadBlockParams,
    fs.FsReadBlockResponse,
    "Read up to 1 MiB at an offset of a read handle.",
    family="filesystem",
    since=Generation.V0_171,
)

FS_WRITE_BLOCK: Final = Method(
    "fs/writeBlock",
    fs.FsWriteBlockParams,
    fs.EmptyResponse,
    "Write up to 1 MiB at an offset of a replace handle.",
    family="filesystem",
    since=Generation.V0_171,
)

FS_CLOSE: Final = Method(
    "fs/close",
    fs.FsCloseParams,
    fs.EmptyResponse,
    "Close a file handle (idempotent).",
    family="filesystem",
    since=Generation.V0_171,
)

FS_WATCH_MISSING: Final = Method(
    "fs/watchMissing",
    fs.FsWatchMissingParams,
    fs.FsWatchMissingResponse,
    "Be notified once when a missing path appears.",
    family="filesystem",
    since=Generation.V0_171,
)

ENVIRONMENT_INFO: Final = Method(
    "environment/info",
    environment.EnvironmentInfoParams,
    environment.EnvironmentInfo,
    "The executor: shell, directories, version, capabilities (as in `initialize`).",
    family="environment info",
    since=Generation.V0_171,
)

ENVIRONMENT_STATUS: Final = Method(
    "environment/status",
    environment.EnvironmentInfoParams,
    environment.EnvironmentStatusResponse,
    "Whether the connection serves requests: always `ready`.",
    family="environment status",
    since=Generation.V0_171,
)

ENVIRONMENT_CONFIG_READ: Final = Method(
    "environmentConfig/read",
    environment.EnvironmentConfigReadParams,
    environment.EnvironmentConfigReadResponse,
    "The executor's own codex config layers, restricted to some keys.",
    family="environment config",
    since=Generation.V0_171,
)

CAPABILITIES_DISCOVER_V2: Final = Method(
    "capabilities/discoverV2",
    discovery.DiscoverV2CapabilitiesParams,
    discovery.DiscoverV2CapabilitiesResponse,
    "The plugins and skills installed on the executor, with their metadata.",
    family="capability discovery",
    since=Generation.V0_171,
)

CAPABILITY_ROOTS_DISCOVER: Final = Method(
    "capabilityRoots/discoverV1",
    discovery.CapabilityRootsDiscoverParams,
    discovery.CapabilityRootsDiscoverResponse,
    "The skill and plugin files under chosen roots, read whole.",
    family="capability discovery",
    since=Generation.V0_171,
)

INITIALIZED: Final[NotificationMethod[Payload]] = NotificationMethod(
    "initialized", None, "client", "Completes the handshake; params are ignored."
)
PROCESS_OUTPUT: Final = NotificationMethod(
    "process/output", process.ExecOutputDeltaNotification, "server", "A chunk of output."
)
PROCESS_EXITED: Final = NotificationMethod(
    "process/exited", process.ExecExitedNotification, "server", "The process exited."
)
PROCESS_CLOSED: Final = NotificationMethod(
    "process/closed",
    process.ExecClosedNotification,
    "server",
    "Exited and every stream at EOF; the last event.",
)
HTTP_BODY_DELTA: Final = NotificationMethod(
    "http/request/bodyDelta",
    http_types.HttpRequestBodyDeltaNotification,
    "server",
    "A piece of a streamed `http/request` body; the last has `done: true`.",
)
FS_MISSING_CHANGED: Final = NotificationMethod(
    "fs/missingChanged",
    fs.FsMissingChangedNotification,
    "server",
    "A `fs/watchMissing` watch fired; it has ended.",
)

METHODS: Final[dict[str, Method[Any, Any]]] = {
    method.name: method
    for method in (
        INITIALIZE,
        PROCESS_START,
        PROCESS_READ,
        PROCESS_WRITE,
        PROCESS_TERMINATE,
        PROCESS_SIGNAL,
        PROCESS_RESIZE,
        PROCESS_CLOSE_STDIN,
        PROCESS_LIST,
        HTTP_REQUEST,
        HTTP_REQUEST_CANCEL,
        FS_READ_FILE,
        FS_WRITE_FILE,
        FS_CREATE_DIRECTORY,
        FS_GET_METADATA,
        FS_READ_DIRECTORY,
        FS_REMOVE,
        FS_COPY,
        FS_CANONICALIZE,
        FS_WALK,
        FS_OPEN,
        FS_READ_BLOCK,
        FS_WRITE_BLOCK,
        FS_CLOSE,
        FS_WATCH_MISSING,
        ENVIRONMENT_INFO,
        ENVIRONMENT_STATUS,
        ENVIRONMENT_CONFIG_READ,
        CAPABILITIES_DISCOVER_V2,
        CAPABILITY_ROOTS_DISCOVER,
    )
}
"""Every request by wire name, in the order ``protocol.md`` lists them."""

NOTIFICATIONS: Final[dict[str, NotificationMethod[Any]]] = {
    notification.name: notification
    for notification in (
        INITIALIZED,
        PROCESS_OUTPUT,
        PROCESS_EXITED,
        PROCESS_CLOSED,
        HTTP_BODY_DELTA,
        FS_MISSING_CHANGED,
    )
}
