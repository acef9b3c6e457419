"""Fixtures for managed-process tests: servers with a config of the test's choosing."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import pytest
import trio

import execsrv

from ..conftest import TEST_CONFIG

StartServer = Callable[..., Awaitable[execsrv.ExecServer]]


@pytest.fixture
def start_server(nursery: trio.Nursery) -> StartServer:
    """``await start_server(retention_bytes=...)``: an in-process server on 127.0.0.1.

    Fields not given come from ``TEST_CONFIG``; the server stops with the test.
    """

    async def start(**overrides: Any) -> execsrv.ExecServer:
        config = dataclasses.replace(TEST_CONFIG, **overrides)
        return await nursery.start(partial(execsrv.serve, "ws://127.0.0.1:0", config=config))

    return start
