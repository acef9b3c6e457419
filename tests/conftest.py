"""Shared fixtures: an in-process execsrv on 127.0.0.1 and a connected client.

Tests that need a server *subprocess* (CLI, signals, interop) use
``tests/servers.py``; raw-protocol tests use ``tests/wire.py``.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Iterator
from importlib.metadata import entry_points
from typing import Final

import pytest

import execsrv
from execsrv.sandbox.profiles import PROTECTED_SUBPATHS

from .wire import WireClient, open_wire

PLUGIN: Final = "execsrv.pytest_plugin"
"""execsrv's pytest plugin: it loads through its ``pytest11`` entry point when execsrv is
installed (as nox installs it); run from a checkout whose installed metadata predates the
plugin, it is loaded here (pytest refuses one plugin registered under two names)."""

PLUGIN_INSTALLED: Final = any(ep.value == PLUGIN for ep in entry_points(group="pytest11"))

pytest_plugins = ["pytester"] + ([] if PLUGIN_INSTALLED else [PLUGIN])

TEST_CONFIG = execsrv.ServerConfig(kill_grace=0.5)
"""Short kill grace so teardown of misbehaving children stays quick."""

CHILD_ENV = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}
"""A minimal exact environment for children (nothing is inherited)."""


CODEX_TMP_PLACEHOLDERS: Final = tuple(f"/tmp/{name}" for name in PROTECTED_SUBPATHS)
"""What codex 0.171's bubblewrap makes in /tmp (a writable root of ``workspace-write``)
while a sandboxed command runs, and leaves behind when the command is killed."""


@pytest.fixture(scope="session", autouse=True)
def _no_codex_placeholders_left_in_tmp() -> Iterator[None]:
    """Remove the empty placeholders codex left in /tmp during this session (interop
    runs codex sandboxed): they would make /tmp a repository root to later runs."""
    before = {path for path in CODEX_TMP_PLACEHOLDERS if os.path.lexists(path)}
    yield
    for path in CODEX_TMP_PLACEHOLDERS:
        if path not in before:
            with contextlib.suppress(OSError):
                os.rmdir(path)


@pytest.fixture
def execsrv_base_config() -> execsrv.ServerConfig:
    """The plugin's fixtures (servers, backends) use the suite's config."""
    return TEST_CONFIG


@pytest.fixture
def server(execsrv_server: execsrv.ExecServer) -> execsrv.ExecServer:
    """An execsrv listening on an ephemeral 127.0.0.1 port, stopped after the test."""
    return execsrv_server


@pytest.fixture
def client(execsrv_client: execsrv.Client) -> execsrv.Client:
    return execsrv_client


@pytest.fixture
async def wire(server: execsrv.ExecServer) -> AsyncIterator[WireClient]:
    """A raw JSON-RPC peer of ``server``, its handshake done."""
    assert server.url is not None
    async with open_wire(server.url) as peer:
        await peer.handshake()
        yield peer
