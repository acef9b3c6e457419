"""The environment methods of codex 0.171 (spec 0.171 §3.1-§3.3): ``environmentInfo``,
``environment/info``, ``environment/status`` and ``environmentConfig/read``.

These run against execsrv and, under the ``interop`` mark, the codex 0.171 binary
(``EXECSRV_CODEX_171_BIN``); codex 0.130 has none of these methods. Each server
runs with its own ``HOME``, ``CODEX_HOME`` and ``TMPDIR``, so what it reports is
known; a test writes the config files it needs (both servers read them on every
``environmentConfig/read``) and each test gets its own project directory.
Values that name the implementation (``executorVersion``, ``providerId``,
``prependPathDirs``, ``capabilities``) are checked for shape only.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import trio

from execsrv.protocol.generation import Generation

from ..servers import ROOT, RunningServer, open_codex, open_execsrv
from ..wire import WireClient, open_wire
from .conftest import _ServerThread
from .support import WAIT, error

CAPABILITY_FLAGS = {
    "networkProxyLaunch",
    "networkProxyReviewDomains",
    "networkProxyTransparentTcp",
    "credentialMasking",
    "credentialMaskingCustomProviders",
    "capabilityDiscoverySandbox",
    "fsWatchMissing",
    "capabilityDiscoveryV2",
    "environmentConfigRead",
    "httpHeaderEnvVars",
    "sandboxedFileStreaming",
    "fileWriteStreaming",
    "shellSnapshotV2",
    "windowsMxc",
    "linuxRootWritePreservesDevices",
    "linuxApprovedRootWritePreservesRestrictions",
}


def uri(path: Path | str) -> str:
    """A file URI for a path of plain ASCII names (what these tests use)."""
    return "file://" + str(path)


@dataclass
class Host:
    """A server and the directories it was started with."""

    server: RunningServer
    home: Path
    codex_home: Path
    tmp: Path
    projects: Path


@contextmanager
def start_host(
    kind: str,
    prefix: str,
    *,
    tmpdir: bool,
    projects_outside_the_checkout: bool,
    prepare: Callable[[Path], None] | None = None,
) -> Iterator[Host]:
    """A server of ``kind`` (``execsrv`` or ``codex-0.171``) started with a scratch
    HOME and CODEX_HOME (and TMPDIR with ``tmpdir``); ``prepare(codex_home)`` runs
    before it starts. Everything is removed afterwards."""
    # Under .interop/, not /tmp: codex will not set up its helpers under a temp dir.
    parent = ROOT / ".interop" / "codex-homes"
    parent.mkdir(parents=True, exist_ok=True)
    base = Path(tempfile.mkdtemp(prefix=prefix, dir=parent)).resolve()
    dirs = {name: base / name for name in ("home", "codex-home", "tmp", "projects")}
    for path in dirs.values():
        path.mkdir()
    if projects_outside_the_checkout:
        # Outside any git repository (the checkout is one): a project root is the
        # nearest directory with a `.git`.
        dirs["projects"] = Path(tempfile.mkdtemp(prefix=f"{prefix}projects-")).resolve()
    if prepare is not None:
        prepare(dirs["codex-home"])
    env = {"HOME": str(dirs["home"]), "CODEX_HOME": str(dirs["codex-home"])}
    if tmpdir:
        env["TMPDIR"] = str(dirs["tmp"])
    opener = (
        (lambda: open_execsrv(env=env))
        if kind == "execsrv"
        else (lambda: open_codex(generation=Generation.V0_171, env=env))
    )
    runner = _ServerThread(opener)
    try:
        server = runner.start()
        yield Host(server, dirs["home"], dirs["codex-home"], dirs["tmp"], dirs["projects"])
    finally:
        runner.stop()
        shutil.rmtree(base, ignore_errors=True)
        shutil.rmtree(dirs["projects"], ignore_errors=True)


@pytest.fixture(
    scope="module",
    params=["execsrv", pytest.param("codex-0.171", marks=pytest.mark.interop)],
)
def host(request: pytest.FixtureRequest) -> Iterator[Host]:
    with start_host(
        request.param, "environment-", tmpdir=True, projects_outside_the_checkout=True
    ) as started:
        yield started


@pytest.fixture
async def wire(host: Host) -> AsyncIterator[WireClient]:
    async with open_wire(host.server.url) as client:
        with trio.fail_after(WAIT):
            await client.handshake("environment-test")
        yield client


@pytest.fixture
def project(host: Host, request: pytest.FixtureRequest) -> Iterator[Path]:
    """An empty directory of this test's own, under the host's projects directory."""
    path = host.projects / re.sub(r"\W", "-", request.node.name)
    path.mkdir()
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def user_config(host: Host) -> Iterator[Path]:
    """``$CODEX_HOME/config.toml``, removed after the test."""
    path = host.codex_home / "config.toml"
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)


def write(path: Path, text: str) -> None:
    path.write_text(text)


def remove(path: Path) -> None:
    path.unlink()


async def call(wire: WireClient, method: str, params: Any = ...) -> dict[str, Any]:
    with trio.fail_after(WAIT):
        return await wire.request(method, params)


# -- environment/info and environmentInfo -----------------------------------------


@pytest.mark.parametrize("params", [..., None, {}], ids=["absent", "null", "empty"])
async def test_environment_info_takes_no_params(wire: WireClient, params: Any) -> None:
    response = await call(wire, "environment/info", params)
    assert set(response["result"]) >= {"shell", "executorVersion", "capabilities"}


@pytest.mark.parametrize(
    ("params", "kind"),
    [
        ({"a": 1}, "map"),
        ({"a": None}, "map"),
        ([], "sequence"),
        (5, "number"),
        (1.5, "number"),
        ("s", 'string "s"'),
        (True, "boolean `true`"),
    ],
)
@pytest.mark.parametrize("method", ["environment/info", "environment/status"])
async def test_environment_params_are_unit(
    wire: WireClient, method: str, params: Any, kind: str
) -> None:
    response = await call(wire, method, params)
    assert response["error"] == error(-32602, f"invalid type: {kind}, expected unit")


async def test_environment_status_is_ready(wire: WireClient) -> None:
    assert (await call(wire, "environment/status"))["result"] == {"status": "ready"}


async def test_environment_info_describes_the_host(wire: WireClient, host: Host) -> None:
    info = (await call(wire, "environment/info", None))["result"]
    login_shell = pwd.getpwuid(os.getuid()).pw_shell
    assert info["shell"] == {"name": os.path.basename(login_shell), "path": login_shell}
    assert info["cwd"] == uri(ROOT)
    assert info["userHomeDir"] == uri(host.home)
    assert info["platformOs"] == "linux"
    assert info["temporaryDirectories"] == [uri(host.tmp)]
    assert info["tempDir"] == uri(host.tmp)
    assert re.fullmatch(r"\d+\.\d+\.\d+", info["executorVersion"])
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", info["providerId"])
    assert all(path.startswith("file:///") for path in info["prependPathDirs"])
    assert set(info["capabilities"]) == CAPABILITY_FLAGS
    assert all(isinstance(flag, bool) for flag in info["capabilities"].values())
    assert info["capabilities"]["environmentConfigRead"] is True


async def test_initialize_carries_the_same_environment_info(host: Host) -> None:
    async with open_wire(host.server.url) as wire:
        with trio.fail_after(WAIT):
            initialized = await wire.request("initialize", {"clientName": "x"})
            await wire.notify("initialized", {})
            info = await wire.request("environment/info")
    assert initialized["result"]["environmentInfo"] == info["result"]


@pytest.mark.parametrize(
    ("method", "family"),
    [
        ("environment/info", "environment info"),
        ("environment/status", "environment status"),
        ("environmentConfig/read", "environment config"),
    ],
)
async def test_environment_methods_wait_for_the_handshake(
    host: Host, method: str, family: str
) -> None:
    params = (
        {"cwd": uri(ROOT), "configPaths": [["model"]], "requirementsPaths": []}
        if method == "environmentConfig/read"
        else None
    )
    async with open_wire(host.server.url) as wire:
        with trio.fail_after(WAIT):
            before = await wire.request(method, params)
            await wire.request("initialize", {"clientName": "x"})
            between = await wire.request(method, params)
    assert before["error"] == error(
        -32600, f"client must call initialize before using {family} methods"
    )
    assert between["error"] == error(
        -32600, f"client must send initialized before using {family} methods"
    )


# -- environmentConfig/read --------------------------------------------------------


def read_params(cwd: Path, config: list[list[str]], requirements: list[list[str]] | None = None):
    return {"cwd": uri(cwd), "configPaths": config, "requirementsPaths": requirements or []}


USER_CONFIG = """\
model = "o3"
approval_policy = "never"

[mcp_servers.demo]
command = "demo-cmd"
args = ["a", "b c", 'd"e']
env = { FOO = "bar", "X Y" = "z" }
startup_timeout_sec = 12.5

[mcp_servers.remote]
url = "http://127.0.0.1:1/mcp"

[profiles.p1]
model = "gpt"

[[skills.config]]
path = "/x"
enabled = false
"""


async def test_config_read_restricts_the_user_layer(
    wire: WireClient, host: Host, user_config: Path, project: Path
) -> None:
    write(user_config, USER_CONFIG)
    response = await call(
        wire, "environmentConfig/read", read_params(project, [["mcp_servers"]], [["mcp_servers"]])
    )
    assert response["result"] == {
        "userHomeDir": uri(host.home),
        "codexHomeDir": uri(host.codex_home),
        "hostname": response["result"]["hostname"],
        "config": {
            "layers": [
                {
                    "source": f"user ({user_config})",
                    "baseDir": uri(host.codex_home),
                    "toml": '[mcp_servers.demo]\ncommand = "demo-cmd"\n'
                    'args = ["a", "b c", \'d"e\']\nstartup_timeout_sec = 12.5\n\n'
                    '[mcp_servers.demo.env]\nFOO = "bar"\n"X Y" = "z"\n\n'
                    '[mcp_servers.remote]\nurl = "http://127.0.0.1:1/mcp"\n',
                }
            ],
            "cloudInsertionIndex": 0,
        },
        "requirements": {"layers": [], "cloudInsertionIndex": 0},
    }


async def test_config_read_keeps_document_order_and_nested_paths(
    wire: WireClient, user_config: Path, project: Path
) -> None:
    write(user_config, USER_CONFIG)
    paths = [["skills"], ["profiles"], ["mcp_servers", "demo", "args"], ["model"], ["model", "x"]]
    response = await call(wire, "environmentConfig/read", read_params(project, paths))
    (layer,) = response["result"]["config"]["layers"]
    assert layer["toml"] == (
        'model = "o3"\n\n[mcp_servers.demo]\nargs = ["a", "b c", \'d"e\']\n\n'
        '[profiles.p1]\nmodel = "gpt"\n\n[[skills.config]]\npath = "/x"\nenabled = false\n'
    )


async def test_config_read_leaves_out_layers_with_nothing_selected(
    wire: WireClient, user_config: Path, project: Path
) -> None:
    write(user_config, USER_CONFIG)
    response = await call(wire, "environmentConfig/read", read_params(project, [["nope"]]))
    assert response["result"]["config"] == {"layers": [], "cloudInsertionIndex": 0}


STRINGS_CONFIG = r"""
s1 = "multi\nline"
s2 = "both ' and \""
s3 = "tab\there"
s4 = "uni é ☃"
s5 = 'it"s'
s6 = "ctl \u0001 del \u007f"
s7 = "back\\slash"
s8 = "line\nwith ''' and \"\"\""
i = -42
f1 = 1.0
f2 = 1e100
f3 = inf
f4 = nan
f5 = -0.0
f6 = 0.1
b = false
d1 = 1979-05-27T07:32:00Z
d2 = 1979-05-27
d3 = 07:32:00
d4 = 1979-05-27T00:32:00.999999-07:00
d5 = 1979-05-27T07:32:00
ea = []
et = {}
na = [[1, 2], ["a"]]
ia = [{ a = 1 }, { b = 2 }]
mixed = [1, { x = 1 }]
"dotted.key" = 1
"" = 2
"é" = 3
a.b.c = 1
[t]
x = 1
[t.sub]
y = 2
[[t.arr]]
z = 1
[[t.arr]]
z = 2
[t.arr.inner]
w = 3
"""

STRINGS_TOML = (
    's1 = """\nmulti\nline"""\ns2 = """both \' and """"\ns3 = "tab\\there"\n'
    's4 = "uni é ☃"\ns5 = \'it"s\'\ns6 = "ctl \\u0001 del \\u007F"\n'
    "s7 = 'back\\slash'\n"
    's8 = """\nline\nwith \'\'\' and ""\\""""\n'
    "i = -42\nf1 = 1.0\nf2 = 1" + "0" * 100 + ".0\nf3 = inf\nf4 = nan\nf5 = -0.0\n"
    "f6 = 0.1\nb = false\nd1 = 1979-05-27T07:32:00Z\nd2 = 1979-05-27\nd3 = 07:32:00\n"
    "d4 = 1979-05-27T00:32:00.999999-07:00\nd5 = 1979-05-27T07:32:00\nea = []\n"
    'na = [[1, 2], ["a"]]\nmixed = [1, { x = 1 }]\n"dotted.key" = 1\n"" = 2\n"é" = 3\n\n'
    "[et]\n\n[[ia]]\na = 1\n\n[[ia]]\nb = 2\n\n[a.b]\nc = 1\n\n[t]\nx = 1\n\n"
    "[t.sub]\ny = 2\n\n[[t.arr]]\nz = 1\n\n[[t.arr]]\nz = 2\n\n[t.arr.inner]\nw = 3\n"
)


async def test_config_read_writes_values_as_codex_does(
    wire: WireClient, user_config: Path, project: Path
) -> None:
    """Strings in each quoting style, floats, dates, inline and header tables."""
    write(user_config, STRINGS_CONFIG)
    keys = [
        *(f"s{n}" for n in range(1, 9)),
        "i",
        *(f"f{n}" for n in range(1, 7)),
        "b",
        *(f"d{n}" for n in range(1, 6)),
        *("ea", "et", "na", "ia", "mixed", "dotted.key", "", "é", "a", "t"),
    ]
    response = await call(
        wire, "environmentConfig/read", read_params(project, [[key] for key in keys])
    )
    (layer,) = response["result"]["config"]["layers"]
    assert layer["toml"] == STRINGS_TOML


def trust(projects: dict[Path, str]) -> str:
    return "".join(
        f'[projects."{path}"]\ntrust_level = "{level}"\n' for path, level in projects.items()
    )


def make_repo(project: Path) -> Path:
    """``project/repo`` (a git root: ``.git/HEAD``) with ``.codex`` layers at the root and
    in ``sub``; returns ``sub``."""
    repo = project / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (repo / ".codex").mkdir()
    (repo / ".codex" / "config.toml").write_text('model = "repo"\n')
    sub = repo / "sub"
    (sub / ".codex").mkdir(parents=True)
    (sub / ".codex" / "config.toml").write_text('model = "sub"\n')
    return sub


def sources(response: dict[str, Any]) -> list[str]:
    return [layer["source"] for layer in response["result"]["config"]["layers"]]


async def test_config_read_includes_trusted_project_layers(
    wire: WireClient, user_config: Path, project: Path
) -> None:
    sub = make_repo(project)
    repo = sub.parent
    write(user_config, 'model = "user"\n' + trust({repo: "trusted"}))
    response = await call(wire, "environmentConfig/read", read_params(sub, [["model"]]))
    assert response["result"]["config"] == {
        "layers": [
            {"source": f"user ({user_config})", "baseDir": uri(user_config.parent),
             "toml": 'model = "user"\n'},
            {"source": f"project ({repo}/.codex/config.toml)", "baseDir": uri(repo / ".codex"),
             "toml": 'model = "repo"\n'},
            {"source": f"project ({sub}/.codex/config.toml)", "baseDir": uri(sub / ".codex"),
             "toml": 'model = "sub"\n'},
        ],
        "cloudInsertionIndex": 0,
    }  # fmt: skip


@pytest.mark.parametrize(
    ("trusted", "expected"),
    [
        ({}, []),
        ({"sub": "trusted"}, ["repo/sub"]),
        ({"repo": "trusted", "sub": "untrusted"}, ["repo"]),
    ],
    ids=["untrusted", "cwd-only", "cwd-untrusted"],
)
async def test_config_read_trusts_each_directory(
    wire: WireClient,
    user_config: Path,
    project: Path,
    trusted: dict[str, str],
    expected: list[str],
) -> None:
    """A directory's own entry decides; without one, its git root's does."""
    sub = make_repo(project)
    names = {"repo": sub.parent, "sub": sub}
    write(user_config, trust({names[name]: level for name, level in trusted.items()}))
    response = await call(wire, "environmentConfig/read", read_params(sub, [["model"]]))
    assert sources(response) == [
        f"project ({project / name}/.codex/config.toml)" for name in expected
    ]


async def test_config_read_needs_a_git_repository_for_the_root(
    wire: WireClient, user_config: Path, project: Path
) -> None:
    """An empty ``.git`` directory marks no project root: only ``cwd`` is looked at."""
    sub = make_repo(project)
    repo = sub.parent
    remove(repo / ".git" / "HEAD")
    write(user_config, trust({repo: "trusted"}))
    response = await call(wire, "environmentConfig/read", read_params(sub, [["model"]]))
    assert sources(response) == []


NO_PATHS = "at least one config or requirements path is required"
EMPTY_PATH = "TOML paths must contain at least one key segment"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"configPaths": [], "requirementsPaths": []}, NO_PATHS),
        ({"configPaths": [[]], "requirementsPaths": []}, EMPTY_PATH),
        ({"configPaths": [["a"]], "requirementsPaths": [[]]}, EMPTY_PATH),
        ({"configPaths": []}, "missing field `requirementsPaths`"),
        ({"requirementsPaths": []}, "missing field `configPaths`"),
    ],
)
async def test_config_read_refuses_bad_paths(
    wire: WireClient, project: Path, params: dict[str, Any], message: str
) -> None:
    response = await call(wire, "environmentConfig/read", {"cwd": uri(project), **params})
    assert response["error"] == error(-32602, message)


async def test_config_read_needs_params(wire: WireClient) -> None:
    response = await call(wire, "environmentConfig/read", {})
    assert response["error"] == error(-32602, "missing field `cwd`")


async def test_config_read_of_invalid_toml_is_an_internal_error(
    wire: WireClient, user_config: Path, project: Path
) -> None:
    """The file is named; the parser's own words differ (toml-rs, tomllib)."""
    write(user_config, "model = \n")
    response = await call(wire, "environmentConfig/read", read_params(project, [["model"]]))
    assert response["error"]["code"] == -32603
    assert response["error"]["message"].startswith(
        f"failed to load executor-local config: {user_config}:"
    )
