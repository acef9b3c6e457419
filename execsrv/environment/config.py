"""The executor's own codex config layers, as codex 0.171 reads them for
``environmentConfig/read``.

Config layers, lowest precedence first (each only if its file exists):

1. system: ``/etc/codex/config.toml``;
2. user: ``$CODEX_HOME/config.toml`` (``CODEX_HOME`` defaults to ``~/.codex``);
3. project: ``<dir>/.codex/config.toml`` for each directory from the project root
   down to ``cwd`` that is trusted (below);
4. legacy managed: ``/etc/codex/managed_config.toml``.

Requirements layers: ``/etc/codex/requirements.toml``. The cloud layer a client
may add goes after the system layers (``cloud_insertion_index``).

The project root is the nearest directory at or above ``cwd`` holding one of
``project_root_markers`` (from the system and user layers; default ``[".git"]``;
a ``.git`` counts when it is a file or a directory with a ``HEAD``), else ``cwd``.
A directory is trusted when ``projects."<dir>".trust_level`` is ``"trusted"``, or,
when it is not listed, when its git repository's root is (as measured on 0.171).
A ``.codex`` that is ``CODEX_HOME`` itself is not a project layer.

Each layer is then restricted to the requested key paths (:func:`project`) and
left out if nothing is left. Not done (unlike codex): requirements derived from
a legacy ``managed_config.toml`` (``approval_policy``, ``sandbox_mode``), macOS
MDM layers, resolving a git worktree's ``.git`` file to its main repository.
Blocking file I/O: call from a worker thread.
"""

from __future__ import annotations

import os
import socket
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from .errors import ConfigLoadError

__all__ = [
    "SYSTEM_CONFIG_DIR",
    "ConfigLayer",
    "LayerStack",
    "LocalConfig",
    "codex_home",
    "hostname",
    "load_local_config",
    "project",
]

SYSTEM_CONFIG_DIR: Final = Path("/etc/codex")
CONFIG_TOML: Final = "config.toml"
DEFAULT_PROJECT_ROOT_MARKERS: Final = (".git",)


@dataclass(frozen=True, slots=True)
class ConfigLayer:
    source: str
    """How codex names it: ``user (/home/u/.codex/config.toml)``."""
    base_dir: Path
    table: dict[str, Any]


@dataclass(frozen=True, slots=True)
class LayerStack:
    layers: list[ConfigLayer]
    cloud_insertion_index: int


@dataclass(frozen=True, slots=True)
class LocalConfig:
    config: LayerStack
    requirements: LayerStack


def codex_home() -> Path:
    """``$CODEX_HOME`` (resolved, if it exists), else ``~/.codex``."""
    configured = os.environ.get("CODEX_HOME")
    if configured:
        path = Path(configured)
        return path.resolve() if path.exists() else path
    return Path(os.path.expanduser("~")) / ".codex"


def hostname() -> str | None:
    return socket.gethostname() or None


def load_local_config(home: Path, cwd: Path, system_dir: Path = SYSTEM_CONFIG_DIR) -> LocalConfig:
    """Every layer, unrestricted.

    Raises:
        ConfigLoadError: a file exists but cannot be read or is not valid TOML.
    """
    system = _layer(system_dir / CONFIG_TOML, "system")
    user = _layer(home / CONFIG_TOML, "user")
    base = [layer for layer in (system, user) if layer is not None]
    projects = _project_layers(home, cwd, _merged(base))
    managed_file = system_dir / "managed_config.toml"
    managed = _layer(managed_file, "legacy managed_config.toml")
    config = [*base, *projects, *([managed] if managed else [])]
    requirements_file = system_dir / "requirements.toml"
    requirements = _read(requirements_file)
    requirement_layers = (
        []
        if requirements is None
        else [ConfigLayer(str(requirements_file), system_dir, requirements)]
    )
    return LocalConfig(
        LayerStack(config, 1 if system else 0),
        LayerStack(requirement_layers, len(requirement_layers)),
    )


def project(stack: LayerStack, paths: list[list[str]]) -> LayerStack:
    """``stack`` restricted to ``paths``: layers with nothing selected are left out,
    and the cloud index counts the kept layers before it."""
    kept: list[ConfigLayer] = []
    index = 0
    for position, layer in enumerate(stack.layers):
        table = _select(layer.table, paths)
        if not table:
            continue
        kept.append(ConfigLayer(layer.source, layer.base_dir, table))
        if position < stack.cloud_insertion_index:
            index += 1
    return LayerStack(kept, index)


def _select(table: dict[str, Any], paths: list[list[str]]) -> dict[str, Any]:
    """The keys of ``table`` on ``paths``, in document order. A path through a
    value that is not a table keeps the value whole; a table on the way is kept even
    when nothing below it was selected (it overrides lower layers)."""
    selected: dict[str, Any] = {}
    for key, value in table.items():
        rests = [path[1:] for path in paths if path and path[0] == key]
        if not rests:
            continue
        if any(not rest for rest in rests) or not isinstance(value, dict):
            selected[key] = value
        else:
            selected[key] = _select(value, rests)
    return selected


def _read(file: Path) -> dict[str, Any] | None:
    try:
        data = file.read_bytes()
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        return None
    except OSError as error:
        raise ConfigLoadError(f"{file}: {error.strerror or error}") from None
    try:
        return tomllib.loads(data.decode())
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise ConfigLoadError(f"{file}: {error}") from None


def _layer(file: Path, kind: str) -> ConfigLayer | None:
    table = _read(file)
    if table is None:
        return None
    return ConfigLayer(f"{kind} ({file})", file.parent, table)


def _merged(layers: list[ConfigLayer]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for layer in layers:
        _merge_into(merged, layer.table)
    return merged


def _merge_into(target: dict[str, Any], overlay: dict[str, Any]) -> None:
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge_into(target[key], value)
        else:
            target[key] = value


def _is_marker(directory: Path, marker: str) -> bool:
    path = directory / marker
    if marker == ".git":
        return path.is_file() or (path / "HEAD").exists()
    return os.path.lexists(path)


def _nearest(cwd: Path, markers: tuple[str, ...] | list[str]) -> Path | None:
    for directory in (cwd, *cwd.parents):
        if any(_is_marker(directory, marker) for marker in markers):
            return directory
    return None


def _trust(projects: Any, directory: Path) -> str | None:
    if not isinstance(projects, dict):
        return None
    entry = projects.get(str(directory))
    if isinstance(entry, dict) and isinstance(entry.get("trust_level"), str):
        return str(entry["trust_level"])
    return None


def _trusted(projects: Any, directory: Path) -> bool:
    level = _trust(projects, directory)
    if level is None:
        git_root = _nearest(directory, DEFAULT_PROJECT_ROOT_MARKERS)
        level = None if git_root is None else _trust(projects, git_root)
    return level == "trusted"


def _project_layers(home: Path, cwd: Path, merged: dict[str, Any]) -> list[ConfigLayer]:
    markers = merged.get("project_root_markers", list(DEFAULT_PROJECT_ROOT_MARKERS))
    if not isinstance(markers, list) or not all(isinstance(m, str) for m in markers):
        markers = list(DEFAULT_PROJECT_ROOT_MARKERS)
    root = _nearest(cwd, markers) or cwd
    directories = [cwd, *cwd.parents]
    directories = directories[: directories.index(root) + 1]
    projects = merged.get("projects")
    layers = []
    for directory in reversed(directories):
        dot_codex = directory / ".codex"
        if dot_codex == home or not _trusted(projects, directory):
            continue
        file = dot_codex / CONFIG_TOML
        if not file.is_file():
            continue
        table = _read(file)
        if table is not None:
            layers.append(ConfigLayer(f"project ({file})", dot_codex, table))
    return layers
