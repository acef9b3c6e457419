"""``capabilities/discoverV2``: the skills installed in codex 0.171's fixed places.

Locations, in order: ``$CODEX_HOME/skills`` (``codex-home-skills``),
``~/.agents/skills`` (``user-agent-skills``), ``/etc/codex/skills``
(``system-skills``). Each is scanned as a ``capabilityRoots/discoverV1`` root;
a location that is missing, not a directory or not permitted is skipped
silently. Each ``SKILL.md``'s front matter is parsed, and its
``agents/openai.yaml`` (:mod:`.skill_metadata`); a skill below a plugin manifest
is named ``<plugin>:<name>`` (the nearest manifest's ``name``, else its
directory's name). Any warning of a location becomes one generic warning, as in
codex.

Installed plugins: ``$CODEX_HOME/plugins/cache/<marketplace>/<plugin>/<version>``,
one version per plugin (``local``, else the greatest semantic version, else the
greatest name),
hidden directories skipped, whatever ``config.toml`` says about them. Each is
scanned as a root; one that has no manifest, or one that is not a JSON object
with a string ``name``, is left out with one generic warning.
"""

from __future__ import annotations

import json
import os
import posixpath
import re
import stat
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Final

from ..protocol.errors import os_error_message
from .frontmatter import InvalidFrontMatter, parse_front_matter
from .roots import RootDiscovery, Show, TextFile, discover_root, read_text_file
from .skill_metadata import NONE, SkillMetadata, parse_skill_metadata

__all__ = [
    "MAX_CAPABILITIES",
    "InstalledPlugin",
    "InstalledSkill",
    "Inventory",
    "SkillLocation",
    "discover_installed",
    "discover_plugins",
]

MAX_CAPABILITIES: Final = 2_048
MAX_WARNINGS: Final = 64
MAX_QUALIFIED_NAME_CHARS: Final = 64 * 2 + 1
INCOMPLETE: Final = "some capability metadata could not be loaded; discovery may be incomplete"
SIZE_LIMIT: Final = "capability discovery size limit reached"
SYSTEM_CONFIG_DIR: Final = Path("/etc/codex")
LOCAL_VERSION: Final = "local"
DEFAULT_APPS_CONFIG_PATH: Final = ".app.json"


@dataclass(frozen=True, slots=True)
class SkillLocation:
    id: str
    root: str


@dataclass(frozen=True, slots=True)
class InstalledSkill:
    name: str
    description: str
    short_description: str | None
    path: str
    location: SkillLocation | None
    metadata: SkillMetadata


@dataclass(frozen=True, slots=True)
class InstalledPlugin:
    id: str
    display_name: str
    version: str
    root: str
    manifest: TextFile
    mcp_config: TextFile | None
    apps_config: TextFile | None
    skills: list[InstalledSkill]


@dataclass(slots=True)
class Inventory:
    plugins: list[InstalledPlugin] = field(default_factory=list)
    skills: list[InstalledSkill] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def skill_locations(
    codex_home: Path, user_home: Path | None, system_dir: Path = SYSTEM_CONFIG_DIR
) -> list[SkillLocation]:
    locations = [SkillLocation("codex-home-skills", str(codex_home / "skills"))]
    if user_home is not None:
        locations.append(SkillLocation("user-agent-skills", str(user_home / ".agents" / "skills")))
    locations.append(SkillLocation("system-skills", str(system_dir / "skills")))
    return locations


def discover_installed(
    locations: list[SkillLocation], show: Show, plugin_cache: Path | None = None
) -> Inventory:
    """The plugins in ``plugin_cache`` (sorted by id) and the skills at
    ``locations``, in order, within 2,048 skills and 64 warnings."""
    inventory = Inventory()
    if plugin_cache is not None:
        inventory.plugins, plugin_warnings = discover_plugins(str(plugin_cache), show)
        inventory.warnings.extend(plugin_warnings)
    truncated = False
    for location in locations:
        skills, warnings = _location_skills(location, show)
        if warnings:
            inventory.warnings.append(INCOMPLETE)
        room = MAX_CAPABILITIES - len(inventory.skills)
        truncated = truncated or len(skills) > room
        inventory.skills.extend(skills[:room])
        if truncated:
            break
    del inventory.warnings[MAX_WARNINGS:]
    if truncated:
        inventory.warnings = [SIZE_LIMIT, *inventory.warnings[: MAX_WARNINGS - 1]]
    return inventory


def _location_skills(location: SkillLocation, show: Show) -> tuple[list[InstalledSkill], list[str]]:
    try:
        if not stat.S_ISDIR(os.stat(location.root).st_mode):
            return [], []
    except (FileNotFoundError, NotADirectoryError, PermissionError):
        return [], []
    except OSError as error:
        message = os_error_message(error)
        return [], [f"could not inspect capability root {show(location.root)}: {message}"]
    found = discover_root(location.root, show)
    skills, warnings = _skills(found, show, location)
    return skills, [*found.warnings, *([found.error] if found.error else []), *warnings]


def _skills(
    found: RootDiscovery, show: Show, location: SkillLocation | None
) -> tuple[list[InstalledSkill], list[str]]:
    warnings: list[str] = []
    namespaces: dict[str, str] = {}
    for manifest in found.namespace_manifests:
        plugin_root = posixpath.dirname(posixpath.dirname(manifest.path))
        try:
            parsed = json.loads(manifest.contents)
        except ValueError:
            continue
        if not isinstance(parsed, dict) or not isinstance(parsed.get("name", ""), str):
            continue
        name = parsed.get("name", "")
        if not name or not name.strip():
            name = posixpath.basename(plugin_root)
            if not name:
                continue
        namespaces.setdefault(plugin_root, name)
    skills: list[InstalledSkill] = []
    for instructions, metadata_file in found.skills:
        path = instructions.path
        directory = posixpath.basename(posixpath.dirname(path))
        try:
            front = parse_front_matter(instructions.contents, partial(_default_name, directory))
        except InvalidFrontMatter:
            warnings.append(f"invalid skill metadata at {show(path)}")
            continue
        namespace = _namespace(path, namespaces)
        name = front.name
        if namespace is not None:
            if len(namespace) + 1 + len(front.name) > MAX_QUALIFIED_NAME_CHARS:
                warnings.append(f"invalid skill metadata at {show(path)}: qualified name too long")
                continue
            name = f"{namespace}:{front.name}"
        metadata = NONE if metadata_file is None else parse_skill_metadata(metadata_file.contents)
        skills.append(
            InstalledSkill(
                name, front.description, front.short_description, path, location, metadata
            )
        )
    return skills, warnings


def _subdirectories(path: str) -> list[str]:
    """Names of the visible directories in ``path`` (none if it cannot be listed)."""
    try:
        with os.scandir(path) as entries:
            return sorted(
                entry.name
                for entry in entries
                if not entry.name.startswith(".") and entry.is_dir(follow_symlinks=True)
            )
    except OSError:
        return []


_SEMVER: Final = re.compile(r"^(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$")


def _version_order(name: str) -> tuple[int, tuple[int, int, int, int, str], str]:
    """``local`` first, then semantic versions by precedence, then other names by
    byte order (codex 0.171 picked 10.0.0 over 2.0.0, but 9.0 over 10.0)."""
    if name == LOCAL_VERSION:
        return (2, (0, 0, 0, 0, ""), name)
    match = _SEMVER.match(name)
    if match is None:
        return (0, (0, 0, 0, 0, ""), name)
    major, minor, patch, pre = match.groups()
    return (1, (int(major), int(minor), int(patch), 0 if pre else 1, pre or ""), name)


def discover_plugins(cache: str, show: Show) -> tuple[list[InstalledPlugin], list[str]]:
    """The installed plugins under ``cache``, sorted by id; one generic warning for
    each plugin that could not be read."""
    plugins: list[InstalledPlugin] = []
    warnings: list[str] = []
    for marketplace in _subdirectories(cache):
        for name in _subdirectories(posixpath.join(cache, marketplace)):
            versions = _subdirectories(posixpath.join(cache, marketplace, name))
            if not versions:
                continue
            version = max(versions, key=_version_order)
            root = posixpath.join(cache, marketplace, name, version)
            plugin, complete = _plugin(f"{name}@{marketplace}", version, root, show)
            if not complete:
                warnings.append(INCOMPLETE)
            if plugin is None:
                continue
            plugins.append(plugin)
            if len(plugins) == MAX_CAPABILITIES:
                break
    plugins.sort(key=lambda plugin: plugin.id)
    return plugins, warnings


def _plugin(
    plugin_id: str, version: str, root: str, show: Show
) -> tuple[InstalledPlugin | None, bool]:
    """The plugin at ``root`` (None if it cannot be read), and whether all of it was."""
    found = discover_root(root, show)
    if found.error is not None or found.plugin_manifest is None:
        return None, False
    try:
        manifest = json.loads(found.plugin_manifest.contents)
    except ValueError:
        return None, False
    if not isinstance(manifest, dict) or not isinstance(manifest.get("name", ""), str):
        return None, False
    interface = manifest.get("interface")
    display_name = interface.get("displayName") if isinstance(interface, dict) else None
    if not isinstance(display_name, str) or not display_name.strip():
        display_name = manifest.get("name", "")
    if not display_name.strip():
        display_name = posixpath.basename(root)
    apps_config = found.apps_config
    if apps_config is None and "apps" not in manifest:
        apps_config = read_text_file(posixpath.join(root, DEFAULT_APPS_CONFIG_PATH), show)
    skills, warnings = _skills(found, show, location=None)
    plugin = InstalledPlugin(
        plugin_id,
        display_name,
        version,
        root,
        found.plugin_manifest,
        found.mcp_config,
        apps_config,
        skills,
    )
    return plugin, not found.warnings and not warnings


def _default_name(directory: str) -> str:
    return " ".join(directory.split()) or "skill"


def _namespace(path: str, namespaces: dict[str, str]) -> str | None:
    ancestor = posixpath.dirname(path)
    while True:
        if ancestor in namespaces:
            return namespaces[ancestor]
        parent = posixpath.dirname(ancestor)
        if parent == ancestor:
            return None
        ancestor = parent
