"""Embedding: ``nursery.start(execsrv.serve, ...)`` and ``execsrv.open_server``."""

from __future__ import annotations

from functools import partial

import trio

import execsrv


async def test_serve_listens_on_the_config_address(nursery: trio.Nursery) -> None:
    config = execsrv.ServerConfig(listen="ws://127.0.0.1:0", session_ttl=3.0)
    server = await nursery.start(partial(execsrv.serve, config=config))
    assert server.config == config
    assert server.url is not None
    assert server.url.startswith("ws://127.0.0.1:")


async def test_an_explicit_listen_replaces_the_config_one(nursery: trio.Nursery) -> None:
    config = execsrv.ServerConfig(listen="stdio", session_ttl=3.0)
    server = await nursery.start(partial(execsrv.serve, "ws://127.0.0.1:0", config=config))
    assert server.config.listen == "ws://127.0.0.1:0"
    assert server.config.session_ttl == 3.0
    async with execsrv.connect(server.url) as client:
        assert await client.list_processes() == []


async def test_serve_with_positional_listen_only(nursery: trio.Nursery) -> None:
    server = await nursery.start(execsrv.serve, "ws://127.0.0.1:0")
    assert server.config == execsrv.ServerConfig(listen="ws://127.0.0.1:0")
