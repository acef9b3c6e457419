"""The websocket handshake: bearer token (401) and Origin (403), before any JSON-RPC."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import trio
import trio_websocket

import execsrv
from execsrv.cli import build_parser, server_config
from execsrv.client.dial import _typed
from execsrv.server.security import HandshakePolicy, load_auth_token, normalize_origin

from ..conftest import CHILD_ENV
from ..proxy import open_proxy
from ..servers import ROOT
from ..wire import open_wire
from .support import TOKEN, running, token_file, upgrade

BEARER = ("Authorization", f"Bearer {TOKEN}")


# -- bearer token ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "error"),
    [
        pytest.param([], None, id="no-header"),
        pytest.param([("Authorization", "Bearer wrong")], "invalid_token", id="wrong"),
        pytest.param([("Authorization", f"Bearer {TOKEN}x")], "invalid_token", id="longer"),
        pytest.param([("Authorization", f"Bearer {TOKEN[:-1]}")], "invalid_token", id="prefix"),
        pytest.param([("Authorization", f"Basic {TOKEN}")], None, id="basic-scheme"),
        pytest.param([("Authorization", TOKEN)], None, id="no-scheme"),
        pytest.param([("Authorization", "Bearer")], None, id="empty"),
        pytest.param([BEARER, BEARER], "invalid_token", id="twice"),
    ],
)
async def test_a_handshake_without_the_right_token_gets_401(
    tmp_path: Path, headers: list[tuple[str, str]], error: str | None
) -> None:
    async with running(auth_token_file=token_file(tmp_path)) as server:
        assert server.url is not None
        answer = await upgrade(server.url, headers)
    assert answer.status == 401
    challenge = answer.headers["www-authenticate"]
    assert challenge.startswith("Bearer ")
    assert ("invalid_token" in challenge) == (error is not None)
    assert b"token" in answer.body
    assert TOKEN.encode() not in answer.body
    assert answer.closed


async def test_the_right_token_is_accepted_in_any_scheme_case(tmp_path: Path) -> None:
    async with running(auth_token_file=token_file(tmp_path)) as server:
        assert server.url is not None
        for scheme in ("Bearer", "bearer", "BEARER"):
            answer = await upgrade(server.url, [("Authorization", f"{scheme} {TOKEN}")])
            assert answer.status == 101, answer


async def test_the_client_sends_its_token_and_runs_commands(tmp_path: Path) -> None:
    async with running(auth_token_file=token_file(tmp_path)) as server:
        assert server.url is not None
        async with execsrv.connect(server.url, token=TOKEN) as client:
            process = await client.start_process(["echo", "hi"], env=CHILD_ENV)
            with trio.fail_after(10):
                result = await process.communicate()
            assert result.stdout == b"hi\n"
            assert result.exit_code == 0


@pytest.mark.parametrize("token", [None, "wrong-token"])
async def test_the_client_raises_authentication_failed(tmp_path: Path, token: str | None) -> None:
    async with running(auth_token_file=token_file(tmp_path)) as server:
        assert server.url is not None
        with trio.fail_after(10), pytest.raises(execsrv.AuthenticationFailed) as caught:
            async with execsrv.connect(server.url, token=token):
                pytest.fail("connected without the right token")
    error = caught.value
    assert isinstance(error, execsrv.HandshakeRejected)
    assert isinstance(error, execsrv.Disconnected)
    assert error.status == 401
    assert "HTTP 401" in str(error)
    assert "token" in error.body


async def test_no_token_configured_means_no_token_asked(server: execsrv.ExecServer) -> None:
    assert server.url is not None
    assert (await upgrade(server.url)).status == 101
    async with execsrv.connect(server.url, token="anything") as client:
        assert client.session_id


def test_the_client_refuses_a_token_no_header_can_carry() -> None:
    async def main() -> None:
        async with execsrv.connect("ws://127.0.0.1:9", token="two words"):
            pass

    with pytest.raises(ValueError, match="printable ASCII"):
        trio.run(main)


def test_token_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EXECSRV_TOKEN", raising=False)
    assert execsrv.token_from_env() is None
    monkeypatch.setenv("EXECSRV_TOKEN", "  ")
    assert execsrv.token_from_env() is None
    monkeypatch.setenv("EXECSRV_TOKEN", " abc\n")
    assert execsrv.token_from_env() == "abc"


# -- token file -------------------------------------------------------------------


def test_the_token_file_is_stripped(tmp_path: Path) -> None:
    assert load_auth_token(token_file(tmp_path, f"\n  {TOKEN} \r\n\n")) == TOKEN


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "is empty"),
        (" \n\t\n", "is empty"),
        ("two words", "printable ASCII"),
        ("t\u00f6ken", "ASCII"),
    ],
)
def test_an_unusable_token_file_is_refused(tmp_path: Path, content: str, message: str) -> None:
    with pytest.raises(execsrv.ConfigError, match=message):
        load_auth_token(token_file(tmp_path, content))


def test_the_cli_refuses_an_empty_token_file_before_listening(tmp_path: Path) -> None:
    path = token_file(tmp_path, "\n")
    result = subprocess.run(
        [sys.executable, "-m", "execsrv", "serve", "--auth-token-file", path],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert f"--auth-token-file {path} is empty" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_cli_refuses_a_missing_token_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    result = subprocess.run(
        [sys.executable, "-m", "execsrv", "serve", "--auth-token-file", str(missing)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert f"cannot read --auth-token-file {missing}" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_token_file_is_read_once_at_startup(tmp_path: Path) -> None:
    # The policy holds the token; rewriting the file afterwards changes nothing.
    path = token_file(tmp_path)
    policy = HandshakePolicy.from_config(execsrv.ServerConfig(auth_token_file=path))
    Path(path).write_text("other-token-0123456789")
    assert policy.check([(b"authorization", f"Bearer {TOKEN}".encode())]) is None


async def test_stdio_needs_no_token(tmp_path: Path) -> None:
    request = {"id": 1, "method": "initialize", "params": {"clientName": "t"}}
    with trio.fail_after(30):
        result = await trio.run_process(
            [
                sys.executable,
                "-m",
                "execsrv",
                "serve",
                "--listen",
                "stdio",
                "--auth-token-file",
                token_file(tmp_path),
            ],
            cwd=ROOT,
            stdin=(json.dumps(request) + "\n").encode(),
            capture_stdout=True,
            capture_stderr=True,
            check=False,
        )
    assert result.returncode == 0, result.stderr
    reply = json.loads(result.stdout.decode().splitlines()[0])
    assert "sessionId" in reply["result"]


# -- Origin -------------------------------------------------------------------------


async def test_a_browser_origin_is_refused_by_default(server: execsrv.ExecServer) -> None:
    assert server.url is not None
    for origin in ("https://evil.example", "null", "http://127.0.0.1:1234"):
        answer = await upgrade(server.url, [("Origin", origin)])
        assert answer.status == 403, origin
        assert b"--allow-origin" in answer.body
        assert answer.closed


async def test_an_allowed_origin_is_accepted_and_others_refused() -> None:
    allowed = ("https://app.example", "http://localhost:8080")
    async with running(allow_origin=allowed) as server:
        assert server.url is not None
        for origin in ("https://app.example", "HTTPS://APP.example", "http://localhost:8080"):
            assert (await upgrade(server.url, [("Origin", origin)])).status == 101, origin
        for origin in (
            "http://app.example",  # another scheme
            "https://app.example:8443",  # another port
            "https://sub.app.example",
            "http://localhost",
            "null",
        ):
            assert (await upgrade(server.url, [("Origin", origin)])).status == 403, origin
        two = [("Origin", "https://app.example"), ("Origin", "https://evil.example")]
        assert (await upgrade(server.url, two)).status == 403
        assert (await upgrade(server.url)).status == 101  # no Origin: not a browser


async def test_star_allows_every_origin() -> None:
    async with running(allow_origin=("*",)) as server:
        assert server.url is not None
        for origin in ("https://evil.example", "null"):
            assert (await upgrade(server.url, [("Origin", origin)])).status == 101


async def test_origin_is_checked_even_with_the_right_token(tmp_path: Path) -> None:
    async with running(auth_token_file=token_file(tmp_path)) as server:
        assert server.url is not None
        answer = await upgrade(server.url, [BEARER, ("Origin", "https://evil.example")])
        assert answer.status == 403
        allowed_origin_no_token = await upgrade(server.url, [("Origin", "https://evil.example")])
        assert allowed_origin_no_token.status == 403


async def test_clients_that_send_no_origin_are_not_affected(server: execsrv.ExecServer) -> None:
    assert server.url is not None
    async with open_wire(server.url) as wire:  # trio-websocket sends no Origin
        assert await wire.handshake()
    async with execsrv.connect(server.url) as client:
        assert client.session_id


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (401, execsrv.AuthenticationFailed),
        (403, execsrv.AuthenticationFailed),
        (503, execsrv.HandshakeRejected),
        (400, execsrv.HandshakeRejected),
    ],
)
def test_rejections_map_to_typed_errors(status: int, kind: type[Exception]) -> None:
    rejected = trio_websocket.ConnectionRejected(status, (), b"why\n")
    error = _typed("ws://h:1", rejected)
    assert type(error) is kind
    assert error.status == status
    assert error.body == "why"
    assert f"HTTP {status}: why" in error.reason


@pytest.mark.parametrize(
    ("value", "normalized"),
    [
        ("*", "*"),
        ("https://App.Example", "https://app.example"),
        ("http://localhost:8080/", "http://localhost:8080"),
        ("http://[::1]:3000", "http://[::1]:3000"),
    ],
)
def test_origin_values(value: str, normalized: str) -> None:
    assert normalize_origin(value) == normalized


@pytest.mark.parametrize(
    "value", ["app.example", "https://app.example/path", "https://", "null", "https://a b"]
)
def test_bad_origin_values_are_refused(value: str) -> None:
    with pytest.raises(ValueError, match="scheme://host"):
        normalize_origin(value)


def test_allow_origin_is_repeatable_on_the_command_line() -> None:
    args = build_parser().parse_args(
        ["serve", "--allow-origin", "https://A.example", "--allow-origin", "*"]
    )
    assert server_config(args).allow_origin == ("https://a.example", "*")
    bad = subprocess.run(
        [sys.executable, "-m", "execsrv", "serve", "--allow-origin", "a.example"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert bad.returncode == 2
    assert "invalid origin `a.example`" in bad.stderr


# -- auto-resume ----------------------------------------------------------------------


async def test_auto_resume_resends_the_token_and_stops_at_a_401(tmp_path: Path) -> None:
    async with running(auth_token_file=token_file(tmp_path)) as server:
        assert server.port is not None
        async with (
            open_proxy(server.port) as proxy,
            execsrv.connect(proxy.url, token=TOKEN, auto_resume=True) as client,
        ):
            with trio.fail_after(10):
                assert proxy.sever() == 1
                await client.wait_resumed(1)
                assert await client.list_processes() == []
                # The token changes (a restart with a new file): re-dialling stops at
                # the first 401 instead of retrying for the whole resume window.
                server.policy = HandshakePolicy(token="rotated-0123456789abcdef")
                assert proxy.sever() == 1
                with pytest.raises(execsrv.Disconnected, match="HTTP 401"):
                    await client.wait_resumed(2)  # the client gives up instead
            assert client.resumes == 1
