"""Every ``serve`` option can come from ``EXECSRV_<OPTION>``; the command line wins.

Generic on purpose: the checks walk the parser's actions, so an option added later is
covered (or fails here) without touching this file.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import pytest
import trio

import execsrv
from execsrv import ServerConfig
from execsrv.cli import build_parser, server_config
from execsrv.envflags import EnvironmentParser

from ..conftest import CHILD_ENV
from ..security.support import TOKEN, token_file
from ..servers import open_execsrv
from .parsers import serve_parser


def _serve_config(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], *flags: str
) -> ServerConfig:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return server_config(build_parser().parse_args(["serve", *flags]))


def test_every_serve_option_names_its_variable_in_help() -> None:
    serve = serve_parser()
    text = " ".join(serve.format_help().split())
    options = [a for a in serve._actions if a.option_strings and a.dest != "help"]
    assert len(options) >= len(ServerConfig.__dataclass_fields__)
    for action in options:
        long = next(o for o in action.option_strings if o.startswith("--"))
        variable = "EXECSRV_" + long[2:].upper().replace("-", "_")
        assert serve.variable(action) == variable
        assert f"[env: {variable}]" in text, long
    assert "the command line wins" in text
    # Formatting help twice does not annotate twice.
    assert serve.format_help().count("EXECSRV_LISTEN]") == 1


# Each: the variables, and the flags that mean the same.
SAME_CONFIG = [
    pytest.param(
        {"EXECSRV_LISTEN": "ws://127.0.0.1:9999", "EXECSRV_SESSION_TTL": "7.5"},
        ["--listen", "ws://127.0.0.1:9999", "--session-ttl", "7.5"],
        id="typed",
    ),
    pytest.param(
        {"EXECSRV_LOG_FORMAT": "json", "EXECSRV_LOG_LEVEL": "debug"},
        ["--log-format", "json", "--log-level", "debug"],
        id="choices",
    ),
    pytest.param({"EXECSRV_INSECURE_NO_AUTH": "yes"}, ["--insecure-no-auth"], id="flag"),
    pytest.param(
        {"EXECSRV_ALLOW_ORIGIN": "http://a.example, https://b.example:8443"},
        ["--allow-origin", "http://a.example", "--allow-origin", "https://b.example:8443"],
        id="repeatable",
    ),
    pytest.param({"EXECSRV_MAX_SESSIONS": " 12 "}, ["--max-sessions", "12"], id="spaces"),
    pytest.param({"EXECSRV_SESSION_TTL": ""}, [], id="empty-is-unset"),
]


@pytest.mark.parametrize(("env", "flags"), SAME_CONFIG)
def test_a_variable_sets_what_its_flag_sets(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], flags: list[str]
) -> None:
    from_flags = server_config(build_parser().parse_args(["serve", *flags]))
    assert _serve_config(monkeypatch, env) == from_flags


@pytest.mark.parametrize(
    ("word", "expected"),
    [("1", True), ("true", True), ("YES", True), ("0", False), ("False", False), ("no", False)],
)
def test_boolean_words(monkeypatch: pytest.MonkeyPatch, word: str, expected: bool) -> None:
    config = _serve_config(monkeypatch, {"EXECSRV_INSECURE_NO_AUTH": word})
    assert config.insecure_no_auth is expected


def test_the_command_line_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    env = {
        "EXECSRV_SESSION_TTL": "7",
        "EXECSRV_LOG_FORMAT": "json",
        "EXECSRV_ALLOW_ORIGIN": "http://env.example",
        "EXECSRV_MAX_SESSIONS": "3",
    }
    config = _serve_config(
        monkeypatch,
        env,
        *("--session-ttl", "9", "--log-format", "text", "--allow-origin", "http://flag.example"),
    )
    assert config.session_ttl == 9.0
    assert config.log_format == "text"
    assert config.allow_origin == ("http://flag.example",)
    assert config.max_sessions == 3  # not on the command line: the variable's


@pytest.mark.parametrize(
    ("variable", "value", "why"),
    [
        ("EXECSRV_SESSION_TTL", "soon", "invalid --session-ttl SECONDS"),
        ("EXECSRV_SESSION_TTL", "-1", "must not be negative"),
        ("EXECSRV_LOG_FORMAT", "xml", "invalid choice"),
        ("EXECSRV_INSECURE_NO_AUTH", "maybe", "expected 1, 0, true, false, yes or no"),
        ("EXECSRV_LISTEN", "http://x", "unsupported --listen URL"),
        ("EXECSRV_ALLOW_ORIGIN", "http://ok.example,not an origin", "origin"),
    ],
)
def test_a_bad_value_is_a_usage_error_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    variable: str,
    value: str,
    why: str,
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(["serve"])
    assert exit_info.value.code == 2
    (error,) = [line for line in capsys.readouterr().err.splitlines() if "error:" in line]
    assert f"environment variable {variable}={value!r}" in error
    assert why.lower() in error.lower()


def test_help_works_with_a_bad_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("EXECSRV_SESSION_TTL", "soon")
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(["serve", "--help"])
    assert exit_info.value.code == 0
    assert "[env: EXECSRV_SESSION_TTL]" in " ".join(capsys.readouterr().out.split())


def test_other_commands_do_not_read_serve_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXECSRV_LISTEN", "not a listen url")
    args = build_parser().parse_args(["exec", "ws://127.0.0.1:1", "true"])
    assert args.command == "exec"


def test_options_added_later_get_their_variable() -> None:
    """What another ``serve`` option gets without code of its own: the parser is
    generic over its actions (a float, a flag, a negatable flag, a choice)."""
    environ = {
        "EXECSRV_DRAIN_TIMEOUT": "12.5",
        "EXECSRV_METRICS": "true",
        "EXECSRV_NOTIFY": "0",
        "EXECSRV_MODE": "b",
    }
    parser = EnvironmentParser(prog="serve", env_prefix="EXECSRV_", environ=environ)
    parser.add_argument("--drain-timeout", type=float, default=0.0)
    parser.add_argument("--metrics", action="store_true")
    parser.add_argument("--notify", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--mode", choices=["a", "b"], default="a")
    args = parser.parse_args([])
    assert vars(args) == {"drain_timeout": 12.5, "metrics": True, "notify": False, "mode": "b"}
    assert parser.parse_args(["--notify", "--drain-timeout", "1"]).notify is True
    plain = EnvironmentParser(prog="plain", environ=environ)  # no prefix: no variables
    plain.add_argument("--metrics", action="store_true")
    assert plain.parse_args([]).metrics is False


async def test_serve_configured_by_the_environment_only(tmp_path: Path) -> None:
    """A real ``python -m execsrv serve`` with no flags: address, token, log level and
    format all from ``EXECSRV_*``."""
    env = {
        "EXECSRV_LISTEN": "ws://127.0.0.1:0",
        "EXECSRV_AUTH_TOKEN_FILE": token_file(tmp_path),
        "EXECSRV_LOG_FORMAT": "json",
        "EXECSRV_LOG_LEVEL": "debug",
        "EXECSRV_SESSION_TTL": "3",
    }
    async with open_execsrv(env=env, listen=None) as server:
        assert re.fullmatch(r"ws://127\.0\.0\.1:\d+", server.url), server.url
        with trio.fail_after(20):
            with pytest.raises(execsrv.AuthenticationFailed):
                async with execsrv.connect(server.url):
                    pass
            async with execsrv.connect(server.url, token=TOKEN) as client:
                process = await client.start_process(["echo", "from env"], env=CHILD_ENV)
                result = await process.communicate()
        assert result.stdout == b"from env\n"
        stderr = server.stderr_text()
    lines = [json.loads(line) for line in stderr.splitlines()]
    assert any(line["msg"] == "client initialized" for line in lines), lines
    assert {line["level"] for line in lines} >= {"DEBUG", "INFO"}
