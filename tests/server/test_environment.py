"""The environment methods beyond what codex 0.171 can be compared on (see
tests/conformance/test_environment_0171.py for that): the client's calls, honest
capability flags, a plain-path ``cwd``, the system layers (``/etc/codex`` cannot be
written by a test, so :func:`load_local_config` is given another directory), and
the TOML writer's round trip."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import msgspec
import pytest

import execsrv
from execsrv.environment import ConfigLoadError
from execsrv.environment.config import LayerStack, load_local_config, project
from execsrv.environment.toml_writer import dumps
from execsrv.protocol import methods as m
from execsrv.protocol.environment import (
    EnvironmentCapabilities,
    EnvironmentConfigReadParams,
)
from execsrv.server.environment_api import CAPABILITIES

FLAG_METHODS = {
    "environment_config_read": {"environmentConfig/read"},
    "capability_discovery_v2": {"capabilities/discoverV2"},
    "capability_discovery_sandbox": {"capabilityRoots/discoverV1"},
    "fs_watch_missing": {"fs/watchMissing"},
    "sandboxed_file_streaming": {"fs/open", "fs/readBlock", "fs/close"},
    "file_write_streaming": {"fs/open", "fs/writeBlock", "fs/close"},
}
"""The methods a flag promises (the other flags promise fields of existing methods)."""


def test_only_implemented_capabilities_are_advertised() -> None:
    flags = msgspec.structs.asdict(CAPABILITIES)
    assert len(flags) == 16
    for flag, methods in FLAG_METHODS.items():
        if flags[flag]:
            assert methods <= m.METHODS.keys(), flag
    # Each flip is a decision: update this when a feature lands.
    assert {flag for flag, value in flags.items() if value} == {
        "environment_config_read",
        "capability_discovery_v2",
        "fs_watch_missing",
        "file_write_streaming",
        "sandboxed_file_streaming",
        "http_header_env_vars",
    }


def test_capabilities_default_to_false() -> None:
    assert not any(msgspec.structs.asdict(EnvironmentCapabilities()).values())


async def test_client_reads_the_environment(client: execsrv.Client) -> None:
    info = await client.environment_info()
    assert info == client.initial_environment_info
    assert info.capabilities == CAPABILITIES
    assert info.executor_version == "0.171.0"
    assert (await client.environment_status()).status == "ready"


async def test_config_read_accepts_a_plain_cwd(
    client: execsrv.Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The 0.130 form of the ``cwd``; the result's paths are URIs all the same."""
    home = tmp_path / "codex home"
    home.mkdir()
    (home / "config.toml").write_text('model = "o3"\n')
    monkeypatch.setenv("CODEX_HOME", str(home))
    params = EnvironmentConfigReadParams(
        cwd=str(tmp_path), config_paths=[["model"]], requirements_paths=[]
    )
    result = await client.call(m.ENVIRONMENT_CONFIG_READ, params)
    (layer,) = result.config.layers
    assert result.codex_home_dir == "file://" + str(tmp_path).replace(" ", "%20") + "/codex%20home"
    assert layer.base_dir == result.codex_home_dir
    assert layer.source == f"user ({home}/config.toml)"
    assert layer.toml == 'model = "o3"\n'


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture
def system_dir(tmp_path: Path) -> Path:
    """Stands in for ``/etc/codex``: system, legacy managed and requirements files."""
    etc = tmp_path / "etc"
    write(etc / "config.toml", 'model = "system"\n[features]\nx = true\n')
    write(etc / "managed_config.toml", 'model = "managed"\n')
    write(etc / "requirements.toml", 'allowed_approval_policies = ["never"]\n')
    return etc


def test_layers_in_precedence_order(tmp_path: Path, system_dir: Path) -> None:
    home = tmp_path / "home"
    write(
        home / "config.toml",
        f'model = "user"\n[projects."{tmp_path}/repo"]\ntrust_level = "trusted"\n',
    )
    write(tmp_path / "repo" / ".git", "gitdir: elsewhere\n")  # a worktree's .git file
    write(tmp_path / "repo" / ".codex" / "config.toml", 'model = "project"\n')
    local = load_local_config(home, tmp_path / "repo", system_dir)
    assert [(layer.source, layer.base_dir) for layer in local.config.layers] == [
        (f"system ({system_dir}/config.toml)", system_dir),
        (f"user ({home}/config.toml)", home),
        (f"project ({tmp_path}/repo/.codex/config.toml)", tmp_path / "repo" / ".codex"),
        (f"legacy managed_config.toml ({system_dir}/managed_config.toml)", system_dir),
    ]  # fmt: skip
    assert local.config.cloud_insertion_index == 1
    (requirements,) = local.requirements.layers
    assert requirements.source == f"{system_dir}/requirements.toml"
    assert local.requirements.cloud_insertion_index == 1


def test_projection_recounts_the_cloud_index(tmp_path: Path, system_dir: Path) -> None:
    home = tmp_path / "home"
    write(home / "config.toml", "only_user = true\n")
    local = load_local_config(home, tmp_path, system_dir)
    only_user = project(local.config, [["only_user"]])
    assert [layer.table for layer in only_user.layers] == [{"only_user": True}]
    assert only_user.cloud_insertion_index == 0
    model = project(local.config, [["model"]])
    assert [layer.table["model"] for layer in model.layers] == ["system", "managed"]
    assert model.cloud_insertion_index == 1


def test_projection_keeps_blocking_values_and_empty_tables() -> None:
    """A value that is not a table stops a deeper path whole; a table on the way stays
    (empty) so it still overrides lower layers."""
    from execsrv.environment.config import ConfigLayer

    layers = [
        ConfigLayer("a", Path("/"), {"a": 2, "ignored": True}),
        ConfigLayer("b", Path("/"), {"a": {"unrequested": True}, "arr": [1, 2]}),
    ]
    projected = project(LayerStack(layers, 0), [["a", "b"], ["arr", "x"]])
    assert [layer.table for layer in projected.layers] == [{"a": 2}, {"a": {}, "arr": [1, 2]}]
    assert dumps(projected.layers[1].table) == "arr = [1, 2]\n\n[a]\n"


def test_codex_home_is_not_a_project_layer(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    write(repo / ".git" / "HEAD", "ref: refs/heads/main\n")
    home = repo / ".codex"
    write(home / "config.toml", f'[projects."{repo}"]\ntrust_level = "trusted"\n')
    local = load_local_config(home, repo, tmp_path / "no-etc")
    assert [layer.source for layer in local.config.layers] == [f"user ({home}/config.toml)"]


@pytest.mark.parametrize("content", [b"\xff = 1\n", b"model = \n"], ids=["utf8", "toml"])
def test_a_bad_file_is_a_config_load_error(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "config.toml").write_bytes(content)
    with pytest.raises(ConfigLoadError, match=f"^{tmp_path}/config.toml: "):
        load_local_config(tmp_path, tmp_path, tmp_path / "no-etc")


ROUND_TRIP: list[dict[str, Any]] = [
    {"s": '""""""', "t": "'''x'''", "u": "ends with '", "v": 'ends with "', "w": "a\rb"},
    {"q": 'a"b\\c', "m": 'multi\nline "with" \\ back', "n": "line\n'''", "e": ""},
    {'key "quoted"': 1, "key 'single'": 2, "key\nnewline": 3, "a.b": {"c d": [1, {"e": []}]}},
    {"t": {"u": {}}, "arr": [{"x": [{"y": 1}]}, {"z": {"w": 1}}], "f": [0.5, -1e-7, 1e16]},
]


@pytest.mark.parametrize("document", ROUND_TRIP)
def test_written_toml_reads_back_the_same(document: dict[str, Any]) -> None:
    assert tomllib.loads(dumps(document)) == document


def test_an_empty_selection_is_an_empty_document() -> None:
    assert dumps({}) == ""
