"""Capability discovery beyond what codex 0.171 can be compared on (see
tests/conformance/test_discovery_0171.py): the client's calls, plain-path roots,
``/etc/codex/skills`` (given another directory), the limits, and the front matter
subset."""

from __future__ import annotations

from pathlib import Path

import pytest

import execsrv
from execsrv.discovery import installed
from execsrv.discovery.frontmatter import InvalidFrontMatter, parse_front_matter
from execsrv.discovery.roots import discover_root
from execsrv.protocol import discovery as d
from execsrv.protocol.methods import CAPABILITY_ROOTS_DISCOVER


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def skill(name: str, description: str) -> str:
    return f"---\nname: {name}\ndescription: {description}\n---\n"


async def test_client_discovers_roots_in_either_path_form(
    client: execsrv.Client, tmp_path: Path
) -> None:
    """The client sends host paths as URIs (it speaks 0.171 to execsrv); a plain
    path in the request gets plain paths back."""
    s = write(tmp_path / "root" / "a" / "SKILL.md", skill("a", "A"))
    roots = await client.discover_capability_roots(
        {"uri": str(tmp_path / "root"), "gone": "/nowhere"}
    )
    assert [root.id for root in roots] == ["uri", "gone"]
    assert roots[0].skills[0].instructions.path == f"file://{s}"
    assert roots[1].error == (
        "failed to inspect capability root file:///nowhere: No such file or directory (os error 2)"
    )
    plain = d.CapabilityRootsDiscoverParams(
        roots=[d.CapabilityRootDiscoverRequest(id="plain", path=str(tmp_path / "root"))]
    )
    (root,) = (await client.call(CAPABILITY_ROOTS_DISCOVER, plain)).roots
    assert root.skills[0].instructions.path == str(s)


async def test_client_discovers_installed_skills(
    client: execsrv.Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "codex"
    monkeypatch.setenv("CODEX_HOME", str(home))
    s = write(home / "skills" / "x" / "SKILL.md", skill("x", "X"))
    result = await client.discover_capabilities(str(tmp_path))
    assert result.plugins == []
    assert [(skill.name, skill.path) for skill in result.skills][:1] == [("x", f"file://{s}")]
    assert result.skills[0].discovery_root.id == "codex-home-skills"


def test_system_skills_come_last(tmp_path: Path) -> None:
    write(tmp_path / "etc" / "skills" / "sys" / "SKILL.md", skill("sys", "System"))
    write(tmp_path / "codex" / "skills" / "mine" / "SKILL.md", skill("mine", "Mine"))
    locations = installed.skill_locations(tmp_path / "codex", None, tmp_path / "etc")
    inventory = installed.discover_installed(locations, str)
    assert [(s.name, s.location.id) for s in inventory.skills] == [
        ("mine", "codex-home-skills"),
        ("sys", "system-skills"),
    ]
    assert inventory.warnings == []


def test_the_skill_limit_is_a_warning(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(installed, "MAX_CAPABILITIES", 2)
    for name in "abc":
        write(tmp_path / "skills" / name / "SKILL.md", skill(name, name))
    locations = installed.skill_locations(tmp_path, None, tmp_path / "etc")
    inventory = installed.discover_installed(locations, str)
    assert [s.name for s in inventory.skills] == ["a", "b"]
    assert inventory.warnings == [installed.SIZE_LIMIT]


def test_declared_paths_stay_below_the_root(tmp_path: Path) -> None:
    root = tmp_path / "p"
    write(root / ".cursor-plugin" / "plugin.json", '{"mcpServers": "./../x", "apps": "./"}')
    found = discover_root(str(root), str)
    assert found.plugin_manifest is not None
    assert found.mcp_config is None
    manifest = root / ".cursor-plugin" / "plugin.json"
    assert found.warnings == [
        f"ignoring {name} in {manifest}: path must remain below the capability root"
        for name in ("mcpServers", "apps")
    ]


def test_walk_errors_are_warnings(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0)
    try:
        found = discover_root(str(tmp_path), str)
    finally:
        locked.chmod(0o755)
    if found.warnings:  # not when running as root
        assert found.warnings == [
            f"failed to scan capability path {locked}: Permission denied (os error 13)"
        ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("name: a\ndescription: plain # comment", ("a", "plain", None)),
        ("name: a\ndescription: |\n  one\n  two\n\nother: x", ("a", "one two", None)),
        ("name: 'it''s'\ndescription: \"tab\\there\"", ("it's", "tab here", None)),
        ("description: d\nmetadata: {}", ("dir", "d", None)),
        ("description: d\nmetadata:\n  x:\n    deep: 1\n  short-description: s", ("dir", "d", "s")),
        ("description: d\ntags:\n- a\n- b\nname: n", ("n", "d", None)),
        ("# comment\ndescription: d\nname: ~", ("dir", "d", None)),
    ],
)  # fmt: skip
def test_front_matter_subset(text: str, expected: tuple[str, str, str | None]) -> None:
    front = parse_front_matter(f"---\n{text}\n---\nbody", lambda: "dir")
    assert (front.name, front.description, front.short_description) == expected


@pytest.mark.parametrize(
    "text",
    [
        "name: a\nname: b\ndescription: d",
        "name: [a]\ndescription: d",
        "  name: a\ndescription: d",
        "just text\ndescription: d",
        "description: 'open",
    ],
)
def test_front_matter_rejects(text: str) -> None:
    with pytest.raises(InvalidFrontMatter):
        parse_front_matter(f"---\n{text}\n---\n", lambda: "dir")
