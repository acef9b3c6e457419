"""``capabilityRoots/discoverV1``: the skill and plugin files under one root, read
as codex 0.171 reads them (limits and warning texts included).

Paths are host paths; ``show`` writes one as the request did (a URI or a plain
path), for results and warnings alike.
"""

from __future__ import annotations

import json
import os
import posixpath
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from ..fs.ops import walk
from ..protocol.errors import os_error_message

__all__ = [
    "MAX_ROOTS_PER_REQUEST",
    "PLUGIN_MANIFEST_PATHS",
    "RootDiscovery",
    "TextFile",
    "discover_root",
    "read_text_file",
]

MAX_ROOTS_PER_REQUEST: Final = 128
MAX_SCAN_DEPTH: Final = 6
MAX_DIRECTORIES_PER_ROOT: Final = 2_000
MAX_ENTRIES_PER_ROOT: Final = 20_000
MAX_FILE_BYTES: Final = 1024 * 1024
MAX_BUNDLE_BYTES_PER_ROOT: Final = 16 * 1024 * 1024
SKILL_FILE_NAME: Final = "SKILL.md"
SKILL_METADATA_PATH: Final = "agents/openai.yaml"
DEFAULT_MCP_CONFIG_PATH: Final = ".mcp.json"
PLUGIN_MANIFEST_PATHS: Final = (
    ".codex-plugin/plugin.json",
    ".claude-plugin/plugin.json",
    ".cursor-plugin/plugin.json",
)
"""In order of preference, below a plugin's directory."""
_MANIFEST_DIRS: Final = tuple(path.split("/")[0] for path in PLUGIN_MANIFEST_PATHS)

Show = Callable[[str], str]


@dataclass(frozen=True, slots=True)
class TextFile:
    path: str
    contents: str


@dataclass(slots=True)
class RootDiscovery:
    """What :func:`discover_root` found; ``error`` set means nothing else was looked at."""

    plugin_manifest: TextFile | None = None
    mcp_config: TextFile | None = None
    apps_config: TextFile | None = None
    skills: list[tuple[TextFile, TextFile | None]] = field(default_factory=list)
    namespace_manifests: list[TextFile] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    error: str | None = None


def _parent(path: str) -> str | None:
    parent = posixpath.dirname(path)
    return None if parent == path else parent


def _manifest_priority(path: str) -> int | None:
    directory = posixpath.basename(posixpath.dirname(path))
    if posixpath.basename(path) != "plugin.json" or directory not in _MANIFEST_DIRS:
        return None
    return _MANIFEST_DIRS.index(directory)


def _plugin_root(manifest: str) -> str:
    return posixpath.dirname(posixpath.dirname(manifest))


class _Reader:
    """Reads recognised files within the per-file and per-root limits."""

    def __init__(self, show: Show, warnings: list[str]) -> None:
        self.show = show
        self.warnings = warnings
        self.bytes = 0

    def read(self, path: str) -> TextFile | None:
        shown = self.show(path)
        try:
            info = os.stat(path)
        except FileNotFoundError:
            return None
        except OSError as error:
            self.warnings.append(
                f"failed to inspect capability file {shown}: {os_error_message(error)}"
            )
            return None
        if not stat.S_ISREG(info.st_mode):
            return None
        if info.st_size > MAX_FILE_BYTES:
            self.warnings.append(f"capability file {shown} exceeds the {MAX_FILE_BYTES}-byte limit")
            return None
        if self.bytes + info.st_size > MAX_BUNDLE_BYTES_PER_ROOT:
            self.warnings.append(
                f"capability root bundle exceeds the {MAX_BUNDLE_BYTES_PER_ROOT}-byte limit"
            )
            return None
        try:
            with open(path, "rb") as file:
                data = file.read(MAX_FILE_BYTES + 1)
        except OSError as error:
            self.warnings.append(
                f"failed to read capability file {shown}: {os_error_message(error)}"
            )
            return None
        if len(data) > MAX_FILE_BYTES or self.bytes + len(data) > MAX_BUNDLE_BYTES_PER_ROOT:
            self.warnings.append(f"capability file {shown} exceeded its read limit")
            return None
        try:
            contents = data.decode()
        except UnicodeDecodeError as error:
            self.warnings.append(f"capability file {shown} is not UTF-8: {_utf8_error(error)}")
            return None
        self.bytes += len(data)
        return TextFile(path, contents)

    def first_manifest(self, directory: str) -> TextFile | None:
        for relative in PLUGIN_MANIFEST_PATHS:
            manifest = self.read(posixpath.join(directory, relative))
            if manifest is not None:
                return manifest
        return None


def read_text_file(path: str, show: Show) -> TextFile | None:
    """One recognised file on its own, as :func:`discover_root` reads one (its
    warnings dropped)."""
    return _Reader(show, []).read(path)


def _utf8_error(error: UnicodeDecodeError) -> str:
    """Rust's ``Utf8Error`` text."""
    if error.reason == "unexpected end of data":
        return f"incomplete utf-8 byte sequence from index {error.start}"
    return f"invalid utf-8 sequence of {error.end - error.start} bytes from index {error.start}"


def discover_root(root: str, show: Show) -> RootDiscovery:
    """The skills and plugin files under ``root`` (a normalised absolute host path).

    Never raises for the file system: a root that cannot be scanned is
    ``error``, a file that cannot be read a warning.
    """
    found = RootDiscovery()
    try:
        is_directory = stat.S_ISDIR(os.stat(root).st_mode)
    except OSError as error:
        found.error = f"failed to inspect capability root {show(root)}: {os_error_message(error)}"
        return found
    if not is_directory:
        found.error = f"capability root {show(root)} is not a directory"
        return found
    try:
        scan = walk(
            root,
            max_depth=MAX_SCAN_DEPTH,
            max_directories=MAX_DIRECTORIES_PER_ROOT,
            max_entries=MAX_ENTRIES_PER_ROOT,
            follow_directory_symlinks=True,
            prune_hidden_directories=False,
        )
    except OSError as error:
        found.error = f"failed to scan capability root {show(root)}: {os_error_message(error)}"
        return found
    found.warnings.extend(
        f"failed to scan capability path {show(path)}: {message}" for path, message in scan.errors
    )
    if scan.truncated:
        found.warnings.append(f"capability scan reached its traversal limit (root: {show(root)})")
    files = [path for path, kind in scan.entries if kind == "file"]
    skill_paths = sorted(
        (path for path in files if posixpath.basename(path) == SKILL_FILE_NAME), key=show
    )
    manifest_paths = sorted(
        (path for path in files if _manifest_priority(path) is not None),
        key=lambda path: (show(_plugin_root(path)), _manifest_priority(path)),
    )

    reader = _Reader(show, found.warnings)
    root_manifest = reader.first_manifest(root)
    inherited = root_manifest
    ancestor = _parent(root)
    while inherited is None and ancestor is not None:
        inherited = reader.first_manifest(ancestor)
        ancestor = _parent(ancestor)
    seen: set[str] = set()
    if inherited is not None:
        seen.add(_plugin_root(inherited.path))
        found.namespace_manifests.append(inherited)
    for path in manifest_paths:
        if _plugin_root(path) in seen:
            continue
        seen.add(_plugin_root(path))
        manifest = reader.read(path)
        if manifest is not None:
            found.namespace_manifests.append(manifest)

    if root_manifest is not None:
        found.plugin_manifest = root_manifest
        mcp_path, inline, apps_path = _declarations(root, root_manifest, show, found.warnings)
        if not inline:
            mcp_path = mcp_path or posixpath.join(root, DEFAULT_MCP_CONFIG_PATH)
            found.mcp_config = reader.read(mcp_path)
        if apps_path is not None:
            found.apps_config = reader.read(apps_path)

    for path in skill_paths:
        instructions = reader.read(path)
        if instructions is None:
            continue
        metadata = reader.read(posixpath.join(posixpath.dirname(path), SKILL_METADATA_PATH))
        found.skills.append((instructions, metadata))
    return found


def _declarations(
    root: str, manifest: TextFile, show: Show, warnings: list[str]
) -> tuple[str | None, bool, str | None]:
    """The manifest's ``mcpServers`` file, whether it is inline, and its ``apps`` file."""
    try:
        declared = json.loads(manifest.contents)
    except ValueError:
        return None, False, None
    if not isinstance(declared, dict):
        return None, False, None
    mcp, apps = declared.get("mcpServers"), declared.get("apps")

    def file_path(name: str, value: object) -> str | None:
        if not isinstance(value, str):
            return None
        shown = show(manifest.path)
        if not value.startswith("./"):
            warnings.append(f"ignoring {name} in {shown}: path must start with `./`")
            return None
        relative = value[2:]
        joined = posixpath.normpath(posixpath.join(root, relative))
        if (
            not relative
            or ".." in relative.replace("\\", "/").split("/")
            or not joined.startswith(root.rstrip("/") + "/")
        ):
            warnings.append(
                f"ignoring {name} in {shown}: path must remain below the capability root"
            )
            return None
        return joined

    return file_path("mcpServers", mcp), isinstance(mcp, dict), file_path("apps", apps)
