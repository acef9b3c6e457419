"""``ServerConfig`` and the ``serve`` flags map 1:1: same names, same defaults.

Generic on purpose: a new field without its flag (or a new flag without its
field) fails here, whoever adds it.
"""

from __future__ import annotations

import dataclasses

import pytest

from execsrv import ServerConfig
from execsrv.cli import build_parser, server_config

from .parsers import serve_options

NOT_CONFIG_FLAGS: frozenset[str] = frozenset()
"""``serve`` flags that deliberately do not set a ``ServerConfig`` field."""


def _flag(field_name: str) -> str:
    return "--" + field_name.replace("_", "-")


@pytest.mark.parametrize("field", dataclasses.fields(ServerConfig), ids=lambda f: f.name)
def test_every_field_has_its_flag(field: dataclasses.Field[object]) -> None:
    actions = serve_options()
    flag = _flag(field.name)
    assert flag in actions, f"ServerConfig.{field.name} has no `serve {flag}`"
    action = actions[flag]
    assert action.dest == field.name
    assert action.default == field.default, f"{flag} default differs from ServerConfig"


def test_every_flag_sets_a_field() -> None:
    fields = {_flag(field.name) for field in dataclasses.fields(ServerConfig)}
    extra = set(serve_options()) - fields - NOT_CONFIG_FLAGS
    assert not extra, f"`serve` flags without a ServerConfig field: {sorted(extra)}"


def test_parsed_flags_become_the_config() -> None:
    args = build_parser().parse_args(["serve", "--session-ttl", "7", "--listen", "stdio"])
    assert server_config(args) == ServerConfig(session_ttl=7.0, listen="stdio")
    assert server_config(build_parser().parse_args(["serve"])) == ServerConfig()
