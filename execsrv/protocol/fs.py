"""Filesystem payloads: ``fs/*`` requests and results, and the ``sandbox`` field.

Names follow the reference's Rust types where its ``-32602`` messages name
them (``invalid type: null, expected struct FsReadFileParams``). Paths are
0.130's ``AbsolutePathBuf`` or 0.171's ``file:`` URIs, told apart per value by
:mod:`.paths`: the params' ``check_params`` applies what decoding rejects, and
the handlers turn each value into a host path with
:func:`~.paths.parse_wire_path`, so the decoded structs still hold the text the
client sent.

The ``sandbox`` field's ``permissions`` is a ``PermissionProfile``, which codex
0.130 decodes as an untagged union of a tagged shape and a legacy one; any
failure inside it is one message, ``data did not match any variant of untagged
enum PermissionProfileDe``. codex 0.171 reads only the tagged shape (an
internally tagged ``ExecPermissionProfile``: ``type`` is required), adds the
``deny`` access and words each failure (``missing field `type```); a 0.171
request's profile is read so. :func:`parse_permissions` decodes it into the
Structs below and :func:`requires_platform_sandbox` says whether the reference
would run the operation in its sandbox helper; execsrv then runs it confined by
Landlock (:mod:`execsrv.sandbox`), and refuses it (:data:`SANDBOX_UNSUPPORTED`)
only where the kernel has no Landlock or the profile cuts access out of an
allowed area, which Landlock cannot express.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, ClassVar, Final, Literal

import msgspec

from .errors import RpcError
from .generation import Generation, of_path_form
from .params import content_name
from .paths import (
    NOT_A_URI,
    NOT_ABSOLUTE,
    PathForm,
    absolute_path,
    check_wire_path,
    form_of,
    parse_wire_path,
)
from .wire import U64, EmptyResponse, Params, Payload, USize

__all__ = [
    "HANDLE_EXISTS",
    "HANDLE_ID_TOO_LONG",
    "MAX_BLOCK_BYTES",
    "MAX_FILE_HANDLES",
    "MAX_HANDLE_ID_BYTES",
    "MAX_MISSING_WATCHES",
    "NOT_ABSOLUTE",
    "NOT_A_FILE",
    "PERMISSIONS_MISMATCH",
    "READ_BLOCK_LENGTH",
    "SANDBOX_UNSUPPORTED",
    "TOO_MANY_HANDLES",
    "TOO_MANY_WATCHES",
    "UNKNOWN_HANDLE",
    "WALK_LIMITS_NOT_POSITIVE",
    "WALK_LIMITS_TOO_LARGE",
    "WALK_MAX_DEPTH",
    "WALK_MAX_DIRECTORIES",
    "WALK_MAX_ENTRIES",
    "WRITE_BLOCK_LENGTH",
    "WRITE_RANGE_TOO_LARGE",
    "CurrentWorkingDirectory",
    "DisabledPermissions",
    "EmptyResponse",
    "ExternalPermissions",
    "FileSystemSandboxContext",
    "FileSystemSandboxEntry",
    "FsCanonicalizeParams",
    "FsCanonicalizeResponse",
    "FsCloseParams",
    "FsCopyParams",
    "FsCreateDirectoryParams",
    "FsGetMetadataParams",
    "FsGetMetadataResponse",
    "FsMissingChangedNotification",
    "FsOpenParams",
    "FsOpenResponse",
    "FsReadBlockParams",
    "FsReadBlockResponse",
    "FsReadDirectoryEntry",
    "FsReadDirectoryParams",
    "FsReadDirectoryResponse",
    "FsReadFileParams",
    "FsReadFileResponse",
    "FsRemoveParams",
    "FsWalkEntry",
    "FsWalkError",
    "FsWalkOptions",
    "FsWalkParams",
    "FsWalkResponse",
    "FsWatchMissingParams",
    "FsWatchMissingResponse",
    "FsWriteBlockParams",
    "FsWriteFileParams",
    "GlobPatternPath",
    "LegacyFileSystemPermissions",
    "LegacyNetworkPermissions",
    "LegacyPermissions",
    "ManagedPermissions",
    "MinimalPath",
    "OpenMode",
    "PermissionProfile",
    "ProjectRootsPath",
    "RestrictedFileSystem",
    "RootPath",
    "SlashTmpPath",
    "SpecialPath",
    "TmpdirPath",
    "UnknownSpecialPath",
    "UnrestrictedFileSystem",
    "absolute_path",
    "parse_permissions",
    "requires_platform_sandbox",
    "restricted_entries",
]

PERMISSIONS_MISMATCH: Final = "data did not match any variant of untagged enum PermissionProfileDe"
"""``-32602`` for any ``permissions`` value that is not a PermissionProfile."""

SANDBOX_UNSUPPORTED: Final = (
    "sandboxed filesystem operations are not supported by execsrv: these permissions "
    "restrict the file system, and execsrv has no sandbox to enforce them"
)
"""``-32600`` for a restricted profile execsrv cannot enforce (no Landlock, or an
entry taking access away inside an allowed area)."""


# -- PermissionProfile ----------------------------------------------------------
# The reference's shapes (snake_case inside `permissions`, unlike the camelCase
# params around it). Only the `permissions` value is decoded into these; they
# are documented in protocol.md's prose, not in its generated tables.

NetworkPolicy = Literal["restricted", "enabled"]
AccessMode = Literal["read", "write", "deny", "none"]  # `deny`: codex 0.171 only
NonZero = Annotated[int, msgspec.Meta(ge=1)]


class _Special(msgspec.Struct, tag_field="kind"):
    """A symbolic path; the reference resolves it at run time."""


class RootPath(_Special, tag="root"):
    pass


class MinimalPath(_Special, tag="minimal"):
    pass


class CurrentWorkingDirectory(_Special, tag="current_working_directory"):
    pass


class ProjectRootsPath(_Special, tag="project_roots"):
    subpath: str | None = None


class TmpdirPath(_Special, tag="tmpdir"):
    pass


class SlashTmpPath(_Special, tag="slash_tmp"):
    pass


class UnknownSpecialPath(_Special, tag="unknown"):
    path: str
    subpath: str | None = None


SpecialValue = (
    RootPath
    | MinimalPath
    | CurrentWorkingDirectory
    | ProjectRootsPath
    | TmpdirPath
    | SlashTmpPath
    | UnknownSpecialPath
)


class _Target(msgspec.Struct, tag_field="type"):
    """What a sandbox entry applies to."""


class PathTarget(_Target, tag="path"):
    path: str  # absolute; normalised by parse_permissions


class GlobPatternPath(_Target, tag="glob_pattern"):
    pattern: str


class SpecialPath(_Target, tag="special"):
    value: SpecialValue


class FileSystemSandboxEntry(msgspec.Struct):
    path: PathTarget | GlobPatternPath | SpecialPath
    access: AccessMode


class RestrictedFileSystem(msgspec.Struct, tag_field="type", tag="restricted"):
    entries: list[FileSystemSandboxEntry]
    glob_scan_max_depth: NonZero | None = None


class UnrestrictedFileSystem(msgspec.Struct, tag_field="type", tag="unrestricted"):
    pass


class ManagedPermissions(msgspec.Struct, tag_field="type", tag="managed"):
    file_system: RestrictedFileSystem | UnrestrictedFileSystem
    network: NetworkPolicy


class DisabledPermissions(msgspec.Struct, tag_field="type", tag="disabled"):
    pass


class ExternalPermissions(msgspec.Struct, tag_field="type", tag="external"):
    network: NetworkPolicy


class LegacyNetworkPermissions(msgspec.Struct):
    enabled: bool | None = None


class LegacyFileSystemPermissions(msgspec.Struct):
    entries: list[FileSystemSandboxEntry] = msgspec.field(default_factory=list)
    glob_scan_max_depth: NonZero | None = None


class LegacyPermissions(msgspec.Struct, forbid_unknown_fields=True):
    """The untagged pre-0.130 shape: always a restricted file system (``{}``: no access)."""

    network: LegacyNetworkPermissions | None = None
    file_system: LegacyFileSystemPermissions | None = None


_Tagged = DisabledPermissions | ExternalPermissions | ManagedPermissions
PermissionProfile = _Tagged | LegacyPermissions


def parse_permissions(value: Any, generation: Generation = Generation.V0_130) -> PermissionProfile:
    """Decode a ``permissions`` value as ``generation``'s codex does: tagged, else
    legacy (0.130); tagged only, with ``deny`` (0.171).

    Raises:
        RpcError: ``-32602`` for anything else, including a relative path in an
            entry: :data:`PERMISSIONS_MISMATCH` (0.130), or 0.171's text for the
            first failure (``missing field `type```).
    """
    profile: PermissionProfile
    if generation is Generation.V0_171:
        try:
            profile = msgspec.convert(value, _Tagged)
        except msgspec.ValidationError as error:
            raise RpcError.invalid_params(_profile_error_0171(value, str(error))) from None
    else:
        try:
            profile = msgspec.convert(value, _Tagged)
        except msgspec.ValidationError:
            try:
                profile = msgspec.convert(value, LegacyPermissions)
            except msgspec.ValidationError:
                raise RpcError.invalid_params(PERMISSIONS_MISMATCH) from None
        if any(entry.access == "deny" for entry in _entries(profile) or []):
            raise RpcError.invalid_params(PERMISSIONS_MISMATCH)  # 0.130 has no `deny`
    entries = _entries(profile)
    if not entries:
        return profile
    normalised = []
    for entry in entries:
        if isinstance(entry.path, PathTarget):
            target = PathTarget(path=_entry_path(entry.path.path, generation))
            entry = FileSystemSandboxEntry(path=target, access=entry.access)
        normalised.append(entry)
    if normalised == entries:
        return profile
    if isinstance(profile, ManagedPermissions):
        assert isinstance(profile.file_system, RestrictedFileSystem)
        file_system = msgspec.structs.replace(profile.file_system, entries=normalised)
        return msgspec.structs.replace(profile, file_system=file_system)
    assert isinstance(profile, LegacyPermissions)
    assert profile.file_system is not None
    legacy = msgspec.structs.replace(profile.file_system, entries=normalised)
    return msgspec.structs.replace(profile, file_system=legacy)


def _entry_path(text: str, generation: Generation) -> str:
    """A ``path`` entry's host path: absolute (0.130) or a ``file:`` URI (0.171).

    What fails to decode is the union's one message in 0.130, and 0.171's text
    for the path in 0.171; a URI naming another host is ``-32600`` (see
    :func:`~.paths.parse_wire_path`), which 0.171 words as a permission path.
    """
    if generation is Generation.V0_171:
        if form_of(text) is PathForm.PLAIN and not text.startswith("/"):
            raise RpcError.invalid_params(NOT_A_URI)
        check_wire_path(text)
        try:
            return parse_wire_path(text).path
        except RpcError as error:
            message = f"invalid sandbox permission path URI: {error.message}"
            raise RpcError(error.code, message) from None
    if form_of(text) is PathForm.URI:
        try:
            check_wire_path(text)
        except RpcError:
            raise RpcError.invalid_params(PERMISSIONS_MISMATCH) from None
        return parse_wire_path(text).path
    if not text.startswith("/"):
        raise RpcError.invalid_params(PERMISSIONS_MISMATCH)
    return absolute_path(text)


_VARIANTS_0171: Final = {
    "type": ("managed", "disabled", "external"),
    "file_system.type": ("restricted", "unrestricted"),
    "path.type": ("path", "glob_pattern", "special"),
    "value.kind": (
        "root",
        "minimal",
        "current_working_directory",
        "project_roots",
        "tmpdir",
        "slash_tmp",
        "unknown",
    ),
    "network": ("restricted", "enabled"),
    "access": ("read", "write", "deny", "none"),
}
"""0.171's variants by where they are in a profile (the last one or two keys)."""
_EXPECTED_0171: Final = {
    "": "internally tagged enum ExecPermissionProfile",
    "file_system": "internally tagged enum ExecManagedFileSystemPermissions",
    "network": "string or map",
    "access": "string or map",
    "entries": "a sequence",
    "glob_scan_max_depth": "a nonzero usize",
    "path": "a string",
    "pattern": "a string",
}
"""What 0.171 expected where a profile holds a value of the wrong type."""
_AT_PATH: Final = re.compile(r" - at `\$([^`]*)`$")
_PATH_STEP: Final = re.compile(r"\.([A-Za-z_]+)|\[(\d+)\]")


def _profile_error_0171(value: Any, message: str) -> str:
    """codex 0.171's text for a profile msgspec rejected with ``message``.

    The profile is an internally tagged enum, so serde reads it as buffered
    content: a number keeps its value (``integer `5```), unlike in the params
    around it. Measured on 0.171.0 for the common failures; an entry or target
    of the wrong type is worded by the nearest measured name.
    """
    match = _AT_PATH.search(message)
    text = message[: match.start()] if match else message
    keys: list[str] = []
    found = value
    for step in _PATH_STEP.finditer(match.group(1) if match else ""):
        key, index = step.group(1), step.group(2)
        if key is not None:
            keys.append(key)
            found = found.get(key) if isinstance(found, dict) else None
        else:
            found = found[int(index)] if isinstance(found, list) else None
    where = ".".join(keys[-2:])
    last = keys[-1] if keys else ""
    if text.startswith("Object missing required field "):
        return "missing field " + text.removeprefix("Object missing required field ")
    if isinstance(value, list) and not keys:
        return "missing field `type`"  # serde reads a sequence's first item as the tag
    if text.startswith(("Invalid value", "Invalid enum value")):
        variants = _VARIANTS_0171.get(where) or _VARIANTS_0171.get(last, ())
        names = [f"`{name}`" for name in variants]
        listed = " or ".join(names) if len(names) == 2 else "one of " + ", ".join(names)
        return f"unknown variant `{found}`, expected {listed}"
    if last in ("type", "kind"):  # a tag is read as an identifier, not as content
        kind = "number" if isinstance(found, int | float) and not isinstance(found, bool) else None
        return f"invalid type: {kind or content_name(found)}, expected variant identifier"
    if last == "glob_scan_max_depth" and isinstance(found, int) and not isinstance(found, bool):
        return f"invalid value: integer `{found}`, expected a nonzero usize"
    expected = _EXPECTED_0171.get(last, "a value")
    return f"invalid type: {content_name(found)}, expected {expected}"


def _entries(profile: PermissionProfile) -> list[FileSystemSandboxEntry] | None:
    """The entries of a restricted file system; None if the file system is not restricted."""
    match profile:
        case ManagedPermissions(file_system=RestrictedFileSystem(entries=entries)):
            return entries
        case LegacyPermissions(file_system=None):
            return []
        case LegacyPermissions(file_system=LegacyFileSystemPermissions(entries=entries)):
            return entries
    return None


def restricted_entries(profile: PermissionProfile) -> list[FileSystemSandboxEntry] | None:
    """The entries of a restricted file system; None if the file system is not restricted."""
    return _entries(profile)


def requires_platform_sandbox(profile: PermissionProfile) -> bool:
    """True where the reference runs the operation in its sandbox helper.

    That is a restricted file system without full-disk write access: no
    ``special root`` entry with ``write``, or an entry that narrows it.
    Disabled, external and unrestricted profiles run directly.
    """
    entries = _entries(profile)
    if entries is None:
        return False
    return not _has_full_disk_write_access(entries)


def _has_full_disk_write_access(entries: list[FileSystemSandboxEntry]) -> bool:
    root_write = any(
        isinstance(e.path, SpecialPath)
        and isinstance(e.path.value, RootPath)
        and e.access == "write"
        for e in entries
    )
    return root_write and not any(_narrows_write(e, entries) for e in entries)


def _narrows_write(entry: FileSystemSandboxEntry, entries: list[FileSystemSandboxEntry]) -> bool:
    """Whether ``entry`` takes write access away somewhere (the reference's rules)."""
    if entry.access == "write":
        return False
    target = entry.path
    if isinstance(target, GlobPatternPath):
        return True
    if isinstance(target, SpecialPath):
        if isinstance(target.value, RootPath):
            return entry.access in ("none", "deny")
        if isinstance(target.value, MinimalPath | UnknownSpecialPath):
            return False
    # A `read` entry is overridden by a `write` entry for the same target; `none` and
    # `deny` never are.
    overridden = entry.access == "read" and any(
        other.access == "write" and other.path == target for other in entries
    )
    return not overridden


# -- params and results -----------------------------------------------------------

AbsolutePath = Annotated[
    str,
    msgspec.Meta(
        description="An absolute path or a `file:` URI (see [Filesystem](#filesystem)), "
        "normalised lexically (`.`, `..`, repeated `/`).",
        extra={"rust": "path string"},  # a PathBuf: serde says `expected path string`
    ),
]

WindowsSandboxLevel = Literal["disabled", "restricted-token", "elevated", "mxc"]  # mxc: 0.171
WINDOWS_LEVELS_0130: Final = ("disabled", "restricted-token", "elevated")


class FileSystemSandboxContext(Params, kw_only=True):
    """The optional ``sandbox`` of every ``fs/*`` method.

    execsrv runs a disabled, external or unrestricted profile (or one with
    write access to the root) directly, as the reference does. A restricted
    one, which the reference runs in its sandbox helper, runs on a thread
    confined by Landlock: the profile's ``read`` and ``write`` entries (the
    project roots are ``cwd``; ``.git``, ``.agents`` and ``.codex`` under a
    writable root stay read-only). A denied change answers
    ``-32603 Read-only file system (os error 30)`` and a denied read
    ``-32004 No such file or directory (os error 2)``, as the reference's
    mounts do; ``fs/open`` handles are opened confined. Without Landlock, or
    for a ``none``/``deny`` entry inside an allowed area, it is refused
    (``-32600``).
    """

    permissions: Annotated[
        Any,
        msgspec.Meta(
            description="A PermissionProfile (snake_case inside; see "
            "[Filesystem](#filesystem)); decides whether the operation is sandboxed."
        ),
    ]
    cwd: Annotated[
        str | None,
        msgspec.Meta(
            description="Absolute or a `file:` URI; resolves cwd-relative permission entries.",
            extra={"rust": "path string"},
        ),
    ] = None
    windows_sandbox_level: Annotated[
        WindowsSandboxLevel, msgspec.Meta(description="Required; no effect on Unix.")
    ]
    windows_sandbox_private_desktop: Annotated[
        bool | None, msgspec.Meta(description="No effect on Unix; null only from codex 0.171.")
    ] = False
    use_legacy_landlock: Annotated[bool, msgspec.Meta(description="No effect in execsrv.")] = False
    workspace_roots: Annotated[
        list[str] | None,
        msgspec.Meta(
            description="codex 0.171: the project roots (absolute or `file:` URIs); "
            "`project_roots` entries resolve against each of them, else against `cwd`.",
            extra={"rust": "Vec<path string>"},
        ),
    ] = None

    def check_params(self, generation: Generation) -> None:
        """What serde rejects while decoding: a bad ``permissions`` or ``cwd``, and
        (0.130) a null ``windowsSandboxPrivateDesktop``."""
        generation = self.speaks(generation)
        if generation is Generation.V0_130 and self.windows_sandbox_level == "mxc":
            levels = ", ".join(f"`{level}`" for level in WINDOWS_LEVELS_0130)
            raise RpcError.invalid_params(f"unknown variant `mxc`, expected one of {levels}")
        self.profile(generation)
        if self.windows_sandbox_private_desktop is None and generation is Generation.V0_130:
            raise RpcError.invalid_params("invalid type: null, expected a boolean")
        for path in ([self.cwd] if self.cwd is not None else []) + (self.workspace_roots or []):
            check_wire_path(path)

    def speaks(self, generation: Generation) -> Generation:
        """The generation its profile is read in: 0.171 if the request speaks it
        (``generation``) or its own ``cwd`` is a URI."""
        return Generation.V0_171 if of_path_form(self.cwd) is Generation.V0_171 else generation

    def profile(self, generation: Generation) -> PermissionProfile:
        """The decoded ``permissions`` (see :func:`parse_permissions`), read as a
        ``generation`` request's (see :meth:`speaks`)."""
        return parse_permissions(self.permissions, self.speaks(generation))

    def checked_profile(self) -> PermissionProfile:
        """The profile :meth:`check_params` accepted while decoding, for a handler:
        read as 0.171, else as 0.130 (one of the two accepted it, and a profile
        both accept decodes alike)."""
        try:
            return parse_permissions(self.permissions, Generation.V0_171)
        except RpcError:
            return parse_permissions(self.permissions, Generation.V0_130)


Sandbox = Annotated[
    FileSystemSandboxContext | None,
    msgspec.Meta(description="Null or absent: run directly. See FileSystemSandboxContext."),
]


FollowSymlinks = Annotated[
    bool | None,
    msgspec.Meta(
        description="codex 0.171. Null, absent or true: follow symlinks. False: refuse "
        "any symlink in the path (see [Filesystem](#filesystem)).",
        extra={"since": "0.171.0"},
    ),
]


class _FsParams(Params):
    _PATHS: ClassVar[tuple[str, ...]] = ("path",)

    def check_params(self, generation: Generation) -> None:
        """``-32602`` for a path of neither form or a bad ``sandbox`` (see ParamsDecoder);
        the sandbox is read as the request's paths speak, else as ``generation``."""
        for name in self._PATHS:
            check_wire_path(getattr(self, name))
        sandbox: FileSystemSandboxContext | None = getattr(self, "sandbox", None)
        if sandbox is not None:
            sandbox.check_params(self.generation() or generation)

    def generation(self) -> Generation | None:
        """The form of its paths: a URI is 0.171, a plain path 0.130."""
        return of_path_form(*(getattr(self, name) for name in self._PATHS))


class FsReadFileParams(_FsParams):
    """``fs/readFile``: the whole file (at most 512 MiB)."""

    path: AbsolutePath
    follow_symlinks: FollowSymlinks = None
    sandbox: Sandbox = None


class FsReadFileResponse(Payload):
    data_base64: Annotated[bytes, msgspec.Meta(description="The file's bytes.")]


class FsWriteFileParams(_FsParams):
    """``fs/writeFile``: create or truncate a file (parents are not created)."""

    path: AbsolutePath
    data_base64: Annotated[
        str,
        msgspec.Meta(
            description="The bytes, standard base64 with padding; invalid base64 is `-32600`."
        ),
    ]
    follow_symlinks: FollowSymlinks = None
    sandbox: Sandbox = None


class FsCreateDirectoryParams(_FsParams):
    """``fs/createDirectory``."""

    path: AbsolutePath
    recursive: Annotated[
        bool | None,
        msgspec.Meta(
            description="Create missing parents and accept an existing directory; null means true."
        ),
    ] = None
    follow_symlinks: FollowSymlinks = None
    sandbox: Sandbox = None


class FsGetMetadataParams(_FsParams):
    """``fs/getMetadata``."""

    path: AbsolutePath
    follow_symlinks: FollowSymlinks = None
    sandbox: Sandbox = None


class FsGetMetadataResponse(Payload):
    """Type flags follow symlinks; ``isSymlink`` is about the path itself."""

    is_directory: Annotated[bool, msgspec.Meta(description="A directory (after symlinks).")]
    is_file: Annotated[bool, msgspec.Meta(description="A regular file (after symlinks).")]
    is_symlink: Annotated[bool, msgspec.Meta(description="The path itself is a symlink.")]
    created_at_ms: Annotated[
        int, msgspec.Meta(description="Birth time, ms since the epoch; 0 when unknown (always).")
    ]
    modified_at_ms: Annotated[
        int, msgspec.Meta(description="Modification time, ms since the epoch.")
    ]
    size: Annotated[
        int | None,
        msgspec.Meta(
            description="Size in bytes (of the target, for a symlink).",
            extra={"extension": True},
        ),
    ] = None


class FsReadDirectoryParams(_FsParams):
    """``fs/readDirectory``."""

    path: AbsolutePath
    sandbox: Sandbox = None


class FsReadDirectoryEntry(Payload):
    file_name: Annotated[
        str, msgspec.Meta(description="The name; invalid UTF-8 is replaced by U+FFFD.")
    ]
    is_directory: Annotated[bool, msgspec.Meta(description="A directory (after symlinks).")]
    is_file: Annotated[bool, msgspec.Meta(description="A regular file (after symlinks).")]


class FsReadDirectoryResponse(Payload):
    entries: Annotated[
        list[FsReadDirectoryEntry],
        msgspec.Meta(
            description="In the OS's order, without `.` and `..`; entries whose "
            "metadata cannot be read (dangling symlinks) are left out."
        ),
    ]


class FsRemoveParams(_FsParams):
    """``fs/remove``: never follows a symlink (the link itself is removed)."""

    path: AbsolutePath
    recursive: Annotated[
        bool | None,
        msgspec.Meta(description="Remove a directory with its contents; null means true."),
    ] = None
    force: Annotated[
        bool | None,
        msgspec.Meta(description="A missing path is not an error; null means true."),
    ] = None
    follow_symlinks: FollowSymlinks = None
    sandbox: Sandbox = None


class FsCopyParams(_FsParams):
    """``fs/copy``: a symlink is copied as a symlink; directories merge."""

    _PATHS: ClassVar[tuple[str, ...]] = ("source_path", "destination_path")
    source_path: AbsolutePath
    destination_path: AbsolutePath
    recursive: Annotated[
        bool, msgspec.Meta(description="Required; must be true to copy a directory.")
    ]
    sandbox: Sandbox = None


class FsCanonicalizeParams(_FsParams):
    """``fs/canonicalize`` (codex 0.171): the path with every symlink and ``..`` resolved."""

    path: AbsolutePath
    sandbox: Sandbox = None


class FsCanonicalizeResponse(Payload):
    path: Annotated[
        str,
        msgspec.Meta(
            description="The canonical path, always a `file://` URI; a missing path "
            "or a dangling symlink is `-32004`."
        ),
    ]


WALK_MAX_DEPTH: Final = 64
WALK_MAX_DIRECTORIES: Final = 10_000
WALK_MAX_ENTRIES: Final = 50_000
WALK_LIMITS_TOO_LARGE: Final = (
    f"filesystem walk limits exceed maximums: depth={WALK_MAX_DEPTH}, "
    f"directories={WALK_MAX_DIRECTORIES}, entries={WALK_MAX_ENTRIES}"
)
"""``-32600`` for a limit above its maximum."""
WALK_LIMITS_NOT_POSITIVE: Final = "filesystem walk limits must be greater than zero"
"""``-32600`` for a zero ``maxDirectories`` or ``maxEntries``."""


class FsWalkOptions(Params, kw_only=True):
    """How far ``fs/walk`` goes; the four limits and the follow flag are required."""

    max_depth: Annotated[
        USize,
        msgspec.Meta(
            description="Directories deeper than this are listed, not read: 0 lists the "
            "root's children only. At most 64."
        ),
    ]
    max_directories: Annotated[
        USize,
        msgspec.Meta(
            description="Directories read, the root included; 1 to 10000. "
            "Reaching it with directories left unread sets `truncated`."
        ),
    ]
    max_entries: Annotated[
        USize,
        msgspec.Meta(
            description="Entries returned; 1 to 50000. Reaching it with entries left "
            "out sets `truncated`."
        ),
    ]
    follow_directory_symlinks: Annotated[
        bool,
        msgspec.Meta(
            description="List a symlink to a directory as a directory and read it; "
            "false: leave every symlink out."
        ),
    ]
    prune_hidden_directories: Annotated[
        bool | None,
        msgspec.Meta(description="List directories named `.*` but do not read them."),
    ] = None


class FsWalkParams(_FsParams):
    """``fs/walk`` (codex 0.171): the tree under a directory, breadth-first."""

    path: AbsolutePath
    options: Annotated[FsWalkOptions, msgspec.Meta(description="Limits and rules.")]
    sandbox: Sandbox = None


WalkKind = Literal["file", "directory"]


class FsWalkEntry(Payload):
    path: Annotated[str, msgspec.Meta(description="A `file://` URI under the root.")]
    kind: Annotated[WalkKind, msgspec.Meta(description="After a followed symlink.")]


class FsWalkError(Payload):
    path: Annotated[str, msgspec.Meta(description="The `file://` URI that failed.")]
    message: Annotated[str, msgspec.Meta(description="Why (`<text> (os error N)`).")]


class FsWalkResponse(Payload):
    entries: Annotated[
        list[FsWalkEntry],
        msgspec.Meta(
            description="Breadth-first, each directory's entries sorted by name (bytes); "
            "without the root, symlinks not followed, dangling symlinks and other types."
        ),
    ]
    errors: Annotated[
        list[FsWalkError],
        msgspec.Meta(description="Directories below the root that could not be read."),
    ]
    truncated: Annotated[
        bool, msgspec.Meta(description="A limit was reached and something was left out.")
    ]


# -- file handles (codex 0.171) ---------------------------------------------------------

MAX_FILE_HANDLES: Final = 128
"""Open handles per connection (0.171's limit)."""
MAX_HANDLE_ID_BYTES: Final = 32
MAX_BLOCK_BYTES: Final = 1 << 20
"""The largest ``fs/readBlock`` ``len`` and ``fs/writeBlock`` chunk (1 MiB)."""
TOO_MANY_HANDLES: Final = f"at most {MAX_FILE_HANDLES} file handles may be open per connection"
HANDLE_ID_TOO_LONG: Final = f"file handle ID must not exceed {MAX_HANDLE_ID_BYTES} bytes"
HANDLE_EXISTS: Final = "file handle `{handle_id}` already exists"
UNKNOWN_HANDLE: Final = "unknown file handle `{handle_id}`"
READ_BLOCK_LENGTH: Final = f"file read block length must be between 1 and {MAX_BLOCK_BYTES}"
WRITE_BLOCK_LENGTH: Final = f"file write block length must be between 1 and {MAX_BLOCK_BYTES}"
WRITE_RANGE_TOO_LARGE: Final = "file write range exceeds the signed 64-bit file offset limit"
NOT_A_FILE: Final = "path `{path}` is not a file"
"""``-32600``: ``fs/open`` of something other than a regular file, and 0.171's
``fs/readFile`` of one."""

OpenMode = Literal["read", "replace"]
HandleId = Annotated[
    str,
    msgspec.Meta(
        description='Chosen by the client: at most 32 bytes of UTF-8 (`""` is allowed), '
        "unique among the connection's open handles."
    ),
]


class FsOpenParams(_FsParams):
    """``fs/open`` (codex 0.171): open a regular file for block reads or writes.

    A handle belongs to the connection that opened it (as in 0.171, whose
    limit is per connection and whose handles a resumed session does not
    see): it is closed by ``fs/close``, or when the connection stops serving
    requests (the peer left, was taken over by a resume, or the server shuts
    down). At most 128 are open per connection.
    """

    handle_id: HandleId
    path: AbsolutePath
    mode: Annotated[
        OpenMode,
        msgspec.Meta(
            description="`read` (the default), or `replace`: create the file or "
            "truncate it now. Either way the path must be a regular file once opened "
            "(a FIFO without a reader fails with `ENXIO`, never blocks)."
        ),
    ] = "read"
    sandbox: Sandbox = None


class FsOpenResponse(Payload):
    handle_id: Annotated[str, msgspec.Meta(description="The id the request chose.")]


class FsReadBlockParams(Params):
    """``fs/readBlock`` (codex 0.171): bytes at an offset of a `read` handle."""

    handle_id: HandleId
    offset: Annotated[
        U64,
        msgspec.Meta(
            description="Where to read; past the end gives an empty chunk. A range "
            "beyond 2^63 bytes is `-32600` `Invalid argument (os error 22)`."
        ),
    ]
    len: Annotated[USize, msgspec.Meta(description="Bytes wanted, 1 to 1048576.")]


class FsReadBlockResponse(Payload):
    chunk: Annotated[bytes, msgspec.Meta(description="Up to `len` bytes.")]
    eof: Annotated[
        bool, msgspec.Meta(description="Fewer than `len` bytes were there: the end was reached.")
    ]


class FsWriteBlockParams(Params):
    """``fs/writeBlock`` (codex 0.171): bytes at an offset of a `replace` handle.

    Written through to the file at once (no commit step); a gap before
    ``offset`` reads as zeros.
    """

    handle_id: HandleId
    offset: Annotated[
        U64,
        msgspec.Meta(description="Where to write; `offset` + length must stay below 2^63."),
    ]
    chunk: Annotated[bytes, msgspec.Meta(description="The bytes (base64), 1 to 1048576 of them.")]


class FsCloseParams(Params):
    """``fs/close`` (codex 0.171): idempotent; an unknown id is not an error."""

    handle_id: HandleId


# -- missing-path watches (codex 0.171) ------------------------------------------------

MAX_MISSING_WATCHES: Final = 256
"""Active ``fs/watchMissing`` watches per connection (execsrv's limit; 0.171 states none)."""
TOO_MANY_WATCHES: Final = (
    f"at most {MAX_MISSING_WATCHES} missing-path watches may be active per connection"
)


class FsWatchMissingParams(Params):
    """``fs/watchMissing`` (codex 0.171): one notification once a missing path exists.

    The watch is one-shot and belongs to the connection: it sends
    ``fs/missingChanged`` once, when any ``missing`` path comes into existence
    (a dangling symlink counts) or ``present`` stops existing, and then ends. It
    also ends, silently, with the connection. It waits on inotify, on the
    nearest existing directory above each missing path, moving down as the
    directories between appear (0.171 notifies already when one of them appears;
    a notification from execsrv means a path is there).
    """

    watch_id: Annotated[
        U64,
        msgspec.Meta(
            description="Chosen by the client, echoed by the notification. 0, or the id "
            "of an active watch of the connection, gives `watching: false`."
        ),
    ]
    missing: Annotated[
        list[AbsolutePath],
        msgspec.Meta(
            description="Paths expected not to exist. Empty, or one of them existing "
            "already: `watching: false`."
        ),
    ]
    present: Annotated[
        str | None,
        msgspec.Meta(
            description="A path that must exist (else `watching: false`); its removal "
            "also notifies.",
            extra={"rust": "path string"},
        ),
    ] = None

    def check_params(self, generation: Generation) -> None:
        """``-32602`` for a path of neither form."""
        for path in self.missing:
            check_wire_path(path)
        if self.present is not None:
            check_wire_path(self.present)

    def generation(self) -> Generation | None:
        return of_path_form(*self.missing, self.present)


class FsWatchMissingResponse(Payload):
    watching: Annotated[
        bool,
        msgspec.Meta(description="A notification will come; false: nothing to watch."),
    ]


class FsMissingChangedNotification(Payload):
    """``fs/missingChanged``: the watch's paths changed; the watch has ended."""

    watch_id: Annotated[int, msgspec.Meta(description="The `watchId` of `fs/watchMissing`.")]
