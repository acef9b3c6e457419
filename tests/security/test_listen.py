"""Loopback by default; beyond loopback only with a token or an explicit insecure flag."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import trio

import execsrv
from execsrv.server.security import is_loopback

from ..servers import ROOT, open_execsrv
from .support import TOKEN, port_of, token_file, upgrade


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.1.2.3", True),
        ("::1", True),
        ("::ffff:127.0.0.1", True),
        ("0.0.0.0", False),
        ("::", False),
        ("10.0.0.1", False),
        ("::ffff:10.0.0.1", False),
        ("fe80::1", False),
    ],
)
def test_loopback_addresses(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


@pytest.mark.parametrize("listen", ["ws://0.0.0.0:0", "ws://[::]:0"])
def test_the_cli_refuses_a_non_loopback_listen_without_a_token(listen: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "execsrv", "serve", "--listen", listen],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stdout == ""  # nothing was bound, so no URL
    assert "refusing to listen on" in result.stderr
    assert "--auth-token-file" in result.stderr
    assert "--insecure-no-auth" in result.stderr
    assert "Traceback" not in result.stderr


async def test_serve_refuses_before_binding() -> None:
    config = execsrv.ServerConfig(listen="ws://0.0.0.0:0")
    with pytest.raises(execsrv.ConfigError, match=r"refusing to listen on ws://0\.0\.0\.0:0"):
        await execsrv.serve(config=config)


async def test_serve_websocket_refuses_too() -> None:
    async with execsrv.open_server() as server, trio.open_nursery() as nursery:
        with pytest.raises(execsrv.ConfigError, match="refusing to listen"):
            await nursery.start(server.serve_websocket, "0.0.0.0", 0)


async def test_the_insecure_flag_allows_it_with_a_warning() -> None:
    async with open_execsrv("--listen", "ws://0.0.0.0:0", "--insecure-no-auth") as server:
        assert server.url.startswith("ws://0.0.0.0:")
        local = f"ws://127.0.0.1:{port_of(server.url)}"
        async with execsrv.connect(local) as client:
            assert client.session_id
        assert "no authentication on a non-loopback address" in server.stderr_text()


async def test_a_token_allows_it_and_is_required(tmp_path: Path) -> None:
    path = token_file(tmp_path)
    async with open_execsrv("--listen", "ws://0.0.0.0:0", "--auth-token-file", path) as server:
        local = f"ws://127.0.0.1:{port_of(server.url)}"
        assert (await upgrade(local)).status == 401
        async with execsrv.connect(local, token=TOKEN) as client:
            assert client.session_id
        assert "no authentication" not in server.stderr_text()
        assert TOKEN not in server.stderr_text()
