"""Capability discovery of codex 0.171 (spec 0.171 §3.4): ``capabilityRoots/discoverV1``
and ``capabilities/discoverV2``, against execsrv and, under ``interop``, the 0.171
binary. Each server has its own ``HOME`` and ``CODEX_HOME``; both read the files
anew on every call, so a test writes the skills it needs and removes them after.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import trio

from ..wire import WireClient, open_wire
from .support import SANDBOX_UNSUPPORTED, WAIT, error
from .test_environment_0171 import Host, start_host


def uri(path: Path | str) -> str:
    """A file URI; names here are ASCII, spaces the only character to encode."""
    return "file://" + quote(str(path))


@pytest.fixture(
    scope="module",
    params=["execsrv", pytest.param("codex-0.171", marks=pytest.mark.interop)],
)
def host(request: pytest.FixtureRequest) -> Iterator[Host]:
    with start_host(
        request.param, "discovery-", tmpdir=False, projects_outside_the_checkout=False
    ) as started:
        yield started


@pytest.fixture
async def wire(host: Host) -> AsyncIterator[WireClient]:
    async with open_wire(host.server.url) as client:
        with trio.fail_after(WAIT):
            await client.handshake("discovery-test")
        yield client


@pytest.fixture
def scratch(host: Host) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(dir=host.projects))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def installed(host: Host) -> Iterator[tuple[Path, Path]]:
    """``$CODEX_HOME/skills`` and ``~/.agents/skills``, emptied after the test."""
    roots = (host.codex_home / "skills", host.home / ".agents" / "skills")
    try:
        yield roots
    finally:
        for root in roots:
            shutil.rmtree(root, ignore_errors=True)


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def skill(name: str, description: str, extra: str = "") -> str:
    return f"---\nname: {name}\ndescription: {description}\n{extra}---\nbody\n"


async def call(wire: WireClient, method: str, params: Any) -> dict[str, Any]:
    with trio.fail_after(WAIT):
        response = await wire.request(method, params)
    del response["id"]
    return response


def text_file(path: Path) -> dict[str, str]:
    return {"path": uri(path), "contents": path.read_text()}


# -- capabilityRoots/discoverV1 ---------------------------------------------------


async def test_params_are_required(wire: WireClient) -> None:
    assert await call(wire, "capabilityRoots/discoverV1", {}) == {
        "error": error(-32602, "missing field `roots`")
    }
    assert await call(wire, "capabilityRoots/discoverV1", {"roots": [{"id": "a"}]}) == {
        "error": error(-32602, "missing field `path`")
    }
    assert await call(wire, "capabilities/discoverV2", {}) == {
        "error": error(-32602, "missing field `cwd`")
    }


async def test_at_most_128_roots(wire: WireClient, scratch: Path) -> None:
    roots = [{"id": str(i), "path": uri(scratch)} for i in range(129)]
    assert await call(wire, "capabilityRoots/discoverV1", {"roots": roots}) == {
        "error": error(-32600, "capability root discovery accepts at most 128 roots")
    }
    assert await call(wire, "capabilityRoots/discoverV1", {"roots": []}) == {
        "result": {"roots": []}
    }


async def test_missing_and_file_roots_are_per_root_errors(wire: WireClient, scratch: Path) -> None:
    file = write(scratch / "file", "x")
    roots = [{"id": "missing", "path": uri(scratch / "nowhere")}, {"id": "f", "path": uri(file)}]
    response = await call(wire, "capabilityRoots/discoverV1", {"roots": roots})
    empty = {"plugin": None, "skills": [], "namespaceManifests": [], "warnings": []}
    assert response == {
        "result": {
            "roots": [
                {
                    "id": "missing",
                    "path": uri(scratch / "nowhere"),
                    **empty,
                    "error": f"failed to inspect capability root {uri(scratch / 'nowhere')}: "
                    "No such file or directory (os error 2)",
                },
                {
                    "id": "f",
                    "path": uri(file),
                    **empty,
                    "error": f"capability root {uri(file)} is not a directory",
                },
            ]
        }
    }


async def test_plugin_root(wire: WireClient, scratch: Path) -> None:
    """The root's manifest, its declared MCP file, nested plugins as namespaces,
    skills sorted by path with their metadata, and the files left out with warnings."""
    root = scratch / "plug"
    manifest = write(
        root / ".codex-plugin" / "plugin.json",
        json.dumps({"name": "plug", "mcpServers": "./mcp/servers.json", "apps": "../x.json"}),
    )
    mcp = write(root / "mcp" / "servers.json", '{"a": 1}\n')
    write(root / ".mcp.json", "{}\n")
    s1 = write(root / "skills" / "s1" / "SKILL.md", skill("s1", "One"))
    meta = write(root / "skills" / "s1" / "agents" / "openai.yaml", "policy: {}\n")
    inner = write(root / "inner" / ".claude-plugin" / "plugin.json", '{"name": "inner"}\n')
    write(root / "inner" / ".cursor-plugin" / "plugin.json", '{"name": "later"}\n')
    s2 = write(root / "inner" / "skills" / "s2" / "SKILL.md", skill("s2", "Two"))
    write(root / "big" / "SKILL.md", "x" * (1024 * 1024 + 1))
    write(root / "bin" / "SKILL.md", b"ok\xff\xfe")
    response = await call(
        wire, "capabilityRoots/discoverV1", {"roots": [{"id": "p", "path": uri(root)}]}
    )
    (result,) = response["result"]["roots"]
    assert result == {
        "id": "p",
        "path": uri(root),
        "plugin": {
            "manifest": text_file(manifest), "mcpConfig": text_file(mcp), "appsConfig": None
        },
        "skills": [
            {"instructions": text_file(s2), "metadata": None},
            {"instructions": text_file(s1), "metadata": text_file(meta)},
        ],
        "namespaceManifests": [text_file(manifest), text_file(inner)],
        "warnings": [
            f"ignoring apps in {uri(manifest)}: path must start with `./`",
            f"capability file {uri(root / 'big/SKILL.md')} exceeds the 1048576-byte limit",
            f"capability file {uri(root / 'bin/SKILL.md')} is not UTF-8: "
            "invalid utf-8 sequence of 1 bytes from index 2",
        ],
        "error": None,
    }  # fmt: skip


async def test_inline_mcp_and_inherited_namespace(wire: WireClient, scratch: Path) -> None:
    """``mcpServers`` as an object reads no file; a root below a plugin inherits its
    manifest as a namespace but is not a plugin itself."""
    root = scratch / "p"
    manifest = write(
        root / ".codex-plugin" / "plugin.json", '{"mcpServers": {}, "apps": "./a.json"}'
    )
    write(root / ".mcp.json", "{}")
    apps = write(root / "a.json", "[]")
    s = write(root / "skills" / "x" / "SKILL.md", skill("x", "X"))
    response = await call(
        wire,
        "capabilityRoots/discoverV1",
        {"roots": [{"id": "p", "path": uri(root)}, {"id": "s", "path": uri(root / "skills")}]},
    )
    plugin_root, skills_root = response["result"]["roots"]
    assert plugin_root["plugin"] == {
        "manifest": text_file(manifest), "mcpConfig": None, "appsConfig": text_file(apps)
    }  # fmt: skip
    assert skills_root["plugin"] is None
    assert skills_root["namespaceManifests"] == [text_file(manifest)]
    assert skills_root["skills"] == [{"instructions": text_file(s), "metadata": None}]


RESTRICTED = {
    "windowsSandboxLevel": "disabled",
    "permissions": {
        "type": "managed",
        "file_system": {"type": "restricted", "entries": [
            {"path": {"type": "special", "value": {"kind": "root"}}, "access": "read"}
        ]},
        "network": "restricted",
    },
}  # fmt: skip


async def test_restricting_sandbox(wire: WireClient, host: Host, scratch: Path) -> None:
    """codex reads within its sandbox helper; execsrv has none and refuses."""
    sandbox = {**RESTRICTED, "cwd": uri(scratch)}  # codex: `missing field cwd` without it
    roots = {"roots": [{"id": "a", "path": uri(scratch), "sandbox": sandbox}]}
    v1 = await call(wire, "capabilityRoots/discoverV1", roots)
    v2 = await call(wire, "capabilities/discoverV2", {"cwd": uri(scratch), "sandbox": sandbox})
    if host.server.kind != "execsrv":
        assert "result" in v1, v1
        assert "result" in v2, v2
    else:
        assert v1 == v2 == {"error": error(-32600, SANDBOX_UNSUPPORTED)}


# -- capabilities/discoverV2 ------------------------------------------------------


def codex_snapshot(request: pytest.FixtureRequest, host: Host) -> None:
    """codex 0.171 answers discoverV2 from a snapshot its file watchers keep current,
    so files written just before the call (or a location created after the server
    started) may not be in it yet; execsrv reads anew on every call."""
    if host.server.kind != "execsrv":
        request.applymarker(
            pytest.mark.xfail(strict=False, reason="codex serves a watcher-updated snapshot")
        )


async def test_no_skills(wire: WireClient, scratch: Path) -> None:
    response = await call(wire, "capabilities/discoverV2", {"cwd": uri(scratch)})
    assert response == {"result": {"plugins": [], "skills": [], "warnings": []}}


def executor_skill(
    name: str, description: str, path: Path, root_id: str, root: Path, short: str | None = None
) -> dict[str, Any]:
    return {
        "name": name,
        "description": description,
        "shortDescription": short,
        "path": uri(path),
        "discoveryRoot": {"id": root_id, "path": uri(root)},
        "dependencies": None,
        "policy": None,
    }


async def test_installed_skills(
    wire: WireClient,
    scratch: Path,
    installed: tuple[Path, Path],
    request: pytest.FixtureRequest,
    host: Host,
) -> None:
    """Both fixed locations in order, each sorted by path; the front matter's forms;
    a plugin namespace; project skills under the cwd are not part of it."""
    codex_snapshot(request, host)
    codex_skills, user_skills = installed
    write(scratch / ".agents" / "skills" / "p" / "SKILL.md", skill("p", "Project"))
    a = write(codex_skills / "alpha" / "SKILL.md", skill("alpha", "Alpha  skill"))
    b = write(
        codex_skills / "n" / "deep" / "beta" / "SKILL.md",
        skill("beta", "'Beta: it''s'", "metadata:\n  short-description: >\n    folded\n    text\n"),
    )
    c = write(
        codex_skills / "sp  ace" / "SKILL.md", '---\nname: ""\ndescription: AWS: ECS # c\n---\n'
    )
    d = write(codex_skills / "quoted" / "SKILL.md", '---\ndescription: "multi\n  line"\n---\n')
    write(codex_skills / "pk" / ".codex-plugin" / "plugin.json", '{"name": "pkname"}')
    e = write(codex_skills / "pk" / "skills" / "in" / "SKILL.md", skill("in", "Inside"))
    g = write(user_skills / "gamma" / "SKILL.md", skill("gamma", "Gamma"))
    response = await call(wire, "capabilities/discoverV2", {"cwd": uri(scratch)})
    assert response == {
        "result": {
            "plugins": [],
            "skills": [
                executor_skill("alpha", "Alpha skill", a, "codex-home-skills", codex_skills),
                executor_skill(
                    "beta", "Beta: it's", b, "codex-home-skills", codex_skills, "folded text"
                ),
                executor_skill("pkname:in", "Inside", e, "codex-home-skills", codex_skills),
                executor_skill("quoted", "multi line", d, "codex-home-skills", codex_skills),
                executor_skill("sp ace", "AWS: ECS", c, "codex-home-skills", codex_skills),
                executor_skill("gamma", "Gamma", g, "user-agent-skills", user_skills),
            ],
            "warnings": [],
        }
    }  # fmt: skip


@pytest.mark.parametrize(
    "contents",
    [
        "no front matter\n",
        "---\nname: x\n---\n",
        "---\nname: x\ndescription: d\n",
        f"---\nname: {'n' * 65}\ndescription: d\n---\n",
        '---\nname: x\ndescription: "unterminated\n---\n',
    ],
    ids=["none", "no-description", "unclosed", "long-name", "bad-yaml"],
)
async def test_invalid_front_matter_is_a_warning(
    wire: WireClient,
    scratch: Path,
    installed: tuple[Path, Path],
    contents: str,
    request: pytest.FixtureRequest,
    host: Host,
) -> None:
    codex_snapshot(request, host)
    codex_skills, _ = installed
    write(codex_skills / "bad" / "SKILL.md", contents)
    good = write(codex_skills / "good" / "SKILL.md", skill("good", "Good"))
    write(codex_skills / "worse" / "SKILL.md", "nothing")
    response = await call(wire, "capabilities/discoverV2", {"cwd": uri(scratch)})
    assert response == {
        "result": {
            "plugins": [],
            "skills": [executor_skill("good", "Good", good, "codex-home-skills", codex_skills)],
            "warnings": [
                "some capability metadata could not be loaded; discovery may be incomplete"
            ],
        }
    }


# -- capabilities/discoverV2: files in place before the server starts -------------

OPENAI_YAML = """\
interface:
  display_name: Alpha
dependencies:
  tools:
    - type: mcp
      value: "  docs   server "
      description: Docs
      transport: stdio
      command: run-docs
    - type: env_var
    - value: no type
policy:
  allow_implicit_invocation: false
  products: [codex, chatgpt]
"""


def _install(codex_home: Path) -> None:
    """Skills with ``agents/openai.yaml`` and a plugin cache, as codex installs them."""
    skills = codex_home / "skills"
    write(skills / "alpha" / "SKILL.md", skill("alpha", "Alpha"))
    write(skills / "alpha" / "agents" / "openai.yaml", OPENAI_YAML)
    write(skills / "beta" / "SKILL.md", skill("beta", "Beta"))
    write(skills / "beta" / "agents" / "openai.yaml", "policy: {}\ndependencies:\n  tools: []\n")
    write(skills / "gamma" / "SKILL.md", skill("gamma", "Gamma"))
    write(skills / "gamma" / "agents" / "openai.yaml", "policy:\n  products: [elsewhere]\n")
    write(skills / "delta" / "SKILL.md", skill("delta", "Delta"))
    write(
        skills / "delta" / "agents" / "openai.yaml", "policy:\n  allow_implicit_invocation: yes\n"
    )
    cache = codex_home / "plugins" / "cache"
    for version in ("1.0.0", "2.0.0", "10.0.0"):
        write(cache / "market" / "tools" / version / ".codex-plugin" / "plugin.json", "{}")
    for version in ("9.0", "10.0"):
        write(cache / "market" / "old" / version / ".codex-plugin" / "plugin.json", "{}")
    root = cache / "market" / "tools" / "10.0.0"
    write(
        root / ".codex-plugin" / "plugin.json",
        '{"name": "tools", "interface": {"displayName": "Tools"}}',
    )
    write(root / ".mcp.json", "{}\n")
    write(root / ".app.json", "[]\n")
    write(root / "skills" / "lint" / "SKILL.md", skill("lint", "Lint"))
    write(root / "skills" / "lint" / "agents" / "openai.yaml", "policy:\n  products: [atlas]\n")
    write(root / "extra" / "fmt" / "SKILL.md", skill("fmt", "Format"))
    for version in ("zzz", "local"):
        write(cache / "other" / "dev" / version / ".claude-plugin" / "plugin.json", "{}")
    write(cache / "other" / "broken" / "1" / ".codex-plugin" / "plugin.json", "not json")
    write(cache / "other" / "empty" / "1" / "skills" / "x" / "SKILL.md", skill("x", "X"))
    write(cache / "other" / ".hidden" / "1" / ".codex-plugin" / "plugin.json", "{}")


@pytest.fixture(
    scope="module",
    params=["execsrv", pytest.param("codex-0.171", marks=pytest.mark.interop)],
)
def prepared(request: pytest.FixtureRequest) -> Iterator[Host]:
    """A server started after its installed skills and plugins were written."""
    with start_host(
        request.param,
        "discovery-v2-",
        tmpdir=False,
        projects_outside_the_checkout=False,
        prepare=_install,
    ) as started:
        yield started


def _skill(
    name: str, description: str, path: Path, dependencies: Any = None, policy: Any = None
) -> dict[str, Any]:
    return {
        "name": name,
        "description": description,
        "shortDescription": None,
        "path": uri(path),
        "dependencies": dependencies,
        "policy": policy,
    }


async def test_installed_plugins_and_skill_metadata(prepared: Host) -> None:
    """Plugins from the cache (one version each: `local`, else the greatest name),
    sorted by id, with their files and namespaced skills; `openai.yaml` read as
    codex reads it, an invalid one giving nulls without a warning; one warning per
    plugin left out."""
    home = prepared.codex_home
    skills, cache = home / "skills", home / "plugins" / "cache"
    tools, dev = cache / "market" / "tools" / "10.0.0", cache / "other" / "dev" / "local"
    old = cache / "market" / "old" / "9.0"
    async with open_wire(prepared.server.url) as wire:
        with trio.fail_after(WAIT):
            await wire.handshake("discovery-test")
        response = await call(wire, "capabilities/discoverV2", {"cwd": uri(prepared.projects)})
    root = {"discoveryRoot": {"id": "codex-home-skills", "path": uri(skills)}}
    mcp_tool = {
        "type": "mcp", "value": "docs server", "description": "Docs", "transport": "stdio",
        "command": "run-docs", "url": None, "oauthCallbackPort": None,
    }  # fmt: skip
    assert response == {
        "result": {
            "plugins": [
                {
                    "id": "dev@other",
                    "displayName": "local",
                    "remotePluginId": None,
                    "version": "local",
                    "root": uri(dev),
                    "files": {
                        "manifest": text_file(dev / ".claude-plugin" / "plugin.json"),
                        "mcpConfig": None,
                        "appsConfig": None,
                    },
                    "skills": [],
                },
                {
                    "id": "old@market",
                    "displayName": "9.0",
                    "remotePluginId": None,
                    "version": "9.0",
                    "root": uri(old),
                    "files": {
                        "manifest": text_file(old / ".codex-plugin" / "plugin.json"),
                        "mcpConfig": None,
                        "appsConfig": None,
                    },
                    "skills": [],
                },
                {
                    "id": "tools@market",
                    "displayName": "Tools",
                    "remotePluginId": None,
                    "version": "10.0.0",
                    "root": uri(tools),
                    "files": {
                        "manifest": text_file(tools / ".codex-plugin" / "plugin.json"),
                        "mcpConfig": text_file(tools / ".mcp.json"),
                        "appsConfig": text_file(tools / ".app.json"),
                    },
                    "skills": [
                        _skill("tools:fmt", "Format", tools / "extra" / "fmt" / "SKILL.md"),
                        _skill(
                            "tools:lint", "Lint", tools / "skills" / "lint" / "SKILL.md",
                            policy={"allowImplicitInvocation": None, "products": ["atlas"]},
                        ),
                    ],
                },
            ],
            "skills": [
                {
                    **_skill(
                        "alpha", "Alpha", skills / "alpha" / "SKILL.md", {"tools": [mcp_tool]},
                        {"allowImplicitInvocation": False, "products": ["codex", "chatgpt"]},
                    ),
                    **root,
                },
                {
                    **_skill(
                        "beta", "Beta", skills / "beta" / "SKILL.md",
                        policy={"allowImplicitInvocation": None, "products": []},
                    ),
                    **root,
                },
                {**_skill("delta", "Delta", skills / "delta" / "SKILL.md"), **root},
                {**_skill("gamma", "Gamma", skills / "gamma" / "SKILL.md"), **root},
            ],
            "warnings": [
                "some capability metadata could not be loaded; discovery may be incomplete"
            ] * 2,
        }
    }  # fmt: skip
