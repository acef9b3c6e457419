"""The child environment builder (``execsrv/process/env.py``): pure unit tests.

Without ``envPolicy`` the child gets exactly ``env``; with one, the steps run in
the reference's order: inherit, default secret excludes, ``exclude``, ``set``,
``includeOnly``, then ``env`` on top (spec §4.3).
"""

from __future__ import annotations

from execsrv.process.env import CORE_VARS, build_child_env
from execsrv.protocol.process import EnvPolicy

SERVER_ENV = {
    "HOME": "/home/u",
    "PATH": "/usr/bin",
    "LANG": "C.UTF-8",
    "SHELL": "/bin/sh",
    "USER": "u",
    "TMPDIR": "/tmp",
    "EDITOR": "vi",
    "OPENAI_API_KEY": "sk",
    "aws_secret_access": "s",
    "GITHUB_TOKEN": "t",
    "MY_Token_2": "t2",
    "KEYRING": "k",
    "PS1": "$ ",
}


def policy(
    inherit: str = "all",
    *,
    ignore_default_excludes: bool = False,
    exclude: list[str] | None = None,
    set: dict[str, str] | None = None,  # the wire name
    include_only: list[str] | None = None,
) -> EnvPolicy:
    return EnvPolicy(
        inherit=inherit,  # type: ignore[arg-type]
        ignore_default_excludes=ignore_default_excludes,
        exclude=exclude or [],
        set=set or {},
        include_only=include_only or [],
    )


def test_without_policy_env_is_exact_and_nothing_is_inherited() -> None:
    assert build_child_env({"ONLY": "1"}, None, SERVER_ENV) == {"ONLY": "1"}
    assert build_child_env({}, None, SERVER_ENV) == {}


def test_without_policy_secret_looking_names_pass_through() -> None:
    """The exact env is the caller's choice; default excludes apply to inheritance only."""
    assert build_child_env({"API_KEY": "x"}, None, SERVER_ENV) == {"API_KEY": "x"}


def test_result_is_a_fresh_dict() -> None:
    env = {"A": "1"}
    child = build_child_env(env, None, SERVER_ENV)
    child["B"] = "2"
    assert env == {"A": "1"}
    server = dict(SERVER_ENV)
    build_child_env({}, policy("all"), server)["NEW"] = "x"
    assert server == SERVER_ENV


def test_inherit_all_drops_default_secret_patterns_case_insensitively() -> None:
    child = build_child_env({}, policy("all"), SERVER_ENV)
    assert child == {
        "HOME": "/home/u",
        "PATH": "/usr/bin",
        "LANG": "C.UTF-8",
        "SHELL": "/bin/sh",
        "USER": "u",
        "TMPDIR": "/tmp",
        "EDITOR": "vi",
        "PS1": "$ ",
    }


def test_ignore_default_excludes_keeps_secrets() -> None:
    child = build_child_env({}, policy("all", ignore_default_excludes=True), SERVER_ENV)
    assert child == SERVER_ENV


def test_inherit_core_keeps_only_core_variables() -> None:
    child = build_child_env({}, policy("core"), SERVER_ENV)
    assert child == {k: v for k, v in SERVER_ENV.items() if k in CORE_VARS}
    assert set(child) == {"HOME", "PATH", "LANG", "SHELL", "USER", "TMPDIR"}


def test_inherit_none_starts_empty() -> None:
    assert build_child_env({}, policy("none"), SERVER_ENV) == {}
    assert build_child_env({"A": "1"}, policy("none", set={"B": "2"}), SERVER_ENV) == {
        "A": "1",
        "B": "2",
    }


def test_exclude_patterns_are_globs_matched_case_insensitively() -> None:
    child = build_child_env({}, policy("all", exclude=["ed*", "P?1", "LANG"]), SERVER_ENV)
    assert "EDITOR" not in child
    assert "PS1" not in child
    assert "LANG" not in child
    assert "HOME" in child


def test_set_adds_after_excludes() -> None:
    """``set`` is applied after the exclude steps, so a set secret-looking name survives."""
    child = build_child_env(
        {}, policy("none", exclude=["*"], set={"MY_TOKEN": "ok", "X": "1"}), SERVER_ENV
    )
    assert child == {"MY_TOKEN": "ok", "X": "1"}


def test_set_overrides_inherited_values() -> None:
    child = build_child_env({}, policy("core", set={"PATH": "/opt/bin"}), SERVER_ENV)
    assert child["PATH"] == "/opt/bin"


def test_include_only_filters_after_set() -> None:
    child = build_child_env(
        {},
        policy("all", set={"FROMSET": "1", "OTHER": "2"}, include_only=["path", "FROM*"]),
        SERVER_ENV,
    )
    assert child == {"PATH": "/usr/bin", "FROMSET": "1"}


def test_empty_include_only_keeps_everything() -> None:
    child = build_child_env({}, policy("core", include_only=[]), SERVER_ENV)
    assert "HOME" in child


def test_env_is_laid_over_last_and_wins_over_set_and_filters() -> None:
    """Live reference: inherit core + set FROMSET + env ONLY=1 gave all of them."""
    child = build_child_env(
        {"ONLY": "1", "FROMSET": "env-wins", "SECRET_KEY": "kept"},
        policy("core", set={"FROMSET": "set"}, include_only=["HOME"], exclude=["ONLY"]),
        SERVER_ENV,
    )
    assert child == {"HOME": "/home/u", "ONLY": "1", "FROMSET": "env-wins", "SECRET_KEY": "kept"}


def test_defaults_to_the_real_server_environment(monkeypatch) -> None:
    monkeypatch.setenv("EXECSRV_ENV_TEST_MARKER", "yes")
    monkeypatch.setenv("EXECSRV_TEST_TOKEN", "secret")
    child = build_child_env({}, policy("all"))
    assert child["EXECSRV_ENV_TEST_MARKER"] == "yes"
    assert "EXECSRV_TEST_TOKEN" not in child
