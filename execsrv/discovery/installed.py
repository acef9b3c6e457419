"""``capabilities/discoverV2``: the skills installed in codex 0.171's fixed places.

Locations, in order: ``$CODEX_HOME/skills`` (``codex-home-skills``),
``~/.agents/skills`` (``user-agent-skills``), ``/etc/codex/skills``
(``system-skills``). Each is scanned as a ``capabilityRoots/discoverV1`` root;
a location that is missing, not a directory or not permitted is skipped
silently. Each ``SKILL.md``'s front matter is parsed; a skill below a plugin
manifest is named ``<plugin>:<name>`` (the nearest manifest's ``name``, else its
directory's name). Any warning of a location becomes one generic warning, as in
codex. Not done (see the wire types): installed plugins and ``agents/openai.yaml``.
"""

from __future__ import annotations

import json
import os
import posixpath
import stat
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Final

from ..protocol.errors import os_error_message
from .frontmatter import InvalidFrontMatter, parse_front_matter
from .roots import Show, discover_root

__all__ = ["MAX_CAPABILITIES", "InstalledSkill", "Inventory", "SkillLocation", "discover_installed"]

MAX_CAPABILITIES: Final = 2_048
MAX_WARNINGS: Final = 64
MAX_QUALIFIED_NAME_CHARS: Final = 64 * 2 + 1
INCOMPLETE: Final = "some capability metadata could not be loaded; discovery may be incomplete"
SIZE_LIMIT: Final = "capability discovery size limit reached"
SYSTEM_CONFIG_DIR: Final = Path("/etc/codex")


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
    location: SkillLocation


@dataclass(slots=True)
class Inventory:
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


def discover_installed(locations: list[SkillLocation], show: Show) -> Inventory:
    """The skills at ``locations``, in order, within 2,048 skills and 64 warnings."""
    inventory = Inventory()
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
    warnings = [*found.warnings, *([found.error] if found.error else [])]
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
    for instructions, _metadata in found.skills:
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
        skills.append(
            InstalledSkill(name, front.description, front.short_description, path, location)
        )
    return skills, warnings


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
