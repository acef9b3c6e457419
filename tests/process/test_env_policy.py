"""The child's environment end to end: exact ``env``, or ``envPolicy`` over the server's
own environment with ``env`` laid on top (spec §4.3).

The server runs in this process, so the environment it inherits from is ``os.environ``.
"""

from __future__ import annotations

import os

import pytest
import trio

import execsrv
from execsrv.process.env import CORE_VARS
from execsrv.protocol.process import EnvPolicy

from .support import Collector

SECRETS = {
    "EXECSRV_T_API_KEY": "k",
    "EXECSRV_T_SECRET": "s",
    "EXECSRV_T_TOKEN": "t",
    "execsrv_t_lower_token": "t2",  # the default patterns ignore case
}
PLAIN = {"EXECSRV_T_PLAIN": "plain value with spaces = and ;", "EXECSRV_T_OTHER": "o"}


@pytest.fixture(autouse=True)
def server_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {**SECRETS, **PLAIN}.items():
        monkeypatch.setenv(name, value)


def policy(
    inherit: str,
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


async def child_env(
    client: execsrv.Client,
    env: dict[str, str],
    env_policy: EnvPolicy | None = None,
    *,
    tty: bool = False,
) -> dict[str, str]:
    """The environment a real child sees (``env -0``, so any value round-trips)."""
    with trio.fail_after(10):
        proc = await client.start_process(
            ["/usr/bin/env", "-0"], env=env, env_policy=env_policy, tty=tty
        )
        seen = await Collector(proc).finish()
    assert seen.exit_code == 0
    entries = seen.output.split(b"\0")
    assert entries[-1] == b""
    return dict(entry.decode().split("=", 1) for entry in entries[:-1])


def _without_secrets(environ: dict[str, str]) -> dict[str, str]:
    return {
        k: v
        for k, v in environ.items()
        if not any(p in k.upper() for p in ("KEY", "SECRET", "TOKEN"))
    }


async def test_without_policy_env_is_exact(client: execsrv.Client) -> None:
    assert await child_env(client, {"ONLY": "1"}) == {"ONLY": "1"}
    assert await child_env(client, {}) == {}


async def test_pty_adds_shell_to_the_exact_env(client: execsrv.Client) -> None:
    assert await child_env(client, {"ONLY": "1"}, tty=True) == {
        "ONLY": "1",
        "SHELL": "/bin/bash",
    }


async def test_inherit_all_drops_default_secret_patterns(client: execsrv.Client) -> None:
    env = await child_env(client, {}, policy("all"))
    assert env == _without_secrets(dict(os.environ))
    assert env["EXECSRV_T_PLAIN"] == PLAIN["EXECSRV_T_PLAIN"]
    assert not set(SECRETS) & set(env)


async def test_ignore_default_excludes_keeps_secrets(client: execsrv.Client) -> None:
    env = await child_env(client, {}, policy("all", ignore_default_excludes=True))
    assert env == dict(os.environ)


async def test_inherit_core_keeps_only_core_variables(client: execsrv.Client) -> None:
    env = await child_env(client, {}, policy("core"))
    assert set(env) <= CORE_VARS
    assert env == {k: v for k, v in os.environ.items() if k in CORE_VARS}
    assert "PATH" in env
    assert "HOME" in env


async def test_inherit_none_with_set_and_env(client: execsrv.Client) -> None:
    env = await child_env(
        client, {"FROMENV": "e", "BOTH": "env"}, policy("none", set={"FROMSET": "s", "BOTH": "set"})
    )
    assert env == {"FROMSET": "s", "FROMENV": "e", "BOTH": "env"}  # env wins over set


async def test_exclude_patterns(client: execsrv.Client) -> None:
    env = await child_env(client, {}, policy("all", exclude=["EXECSRV_T_*"]))
    assert not any(name.upper().startswith("EXECSRV_T_") for name in env)
    assert env == {k: v for k, v in _without_secrets(dict(os.environ)).items() if k not in PLAIN}


async def test_include_only_filters_inherited_and_set_but_not_env(
    client: execsrv.Client,
) -> None:
    env = await child_env(
        client,
        {"OVERLAY": "1"},
        policy(
            "all",
            set={"FROMSET": "s", "EXECSRV_T_SETKEPT": "k"},
            include_only=["EXECSRV_T_PLAIN", "EXECSRV_T_SET*", "PATH"],
        ),
    )
    assert env == {
        "EXECSRV_T_PLAIN": PLAIN["EXECSRV_T_PLAIN"],
        "EXECSRV_T_SETKEPT": "k",
        "PATH": os.environ["PATH"],
        "OVERLAY": "1",
    }


async def test_env_overlay_beats_excludes(client: execsrv.Client) -> None:
    """``env`` is laid over the finished policy result: a value passed explicitly is
    never filtered, even when its name looks secret."""
    env = await child_env(client, {"MY_TOKEN": "explicit"}, policy("none", exclude=["*"]))
    assert env == {"MY_TOKEN": "explicit"}
