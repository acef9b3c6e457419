"""pytest fixtures for testing against execsrv: a server, a client, and both backends.

pytest loads this module through the ``pytest11`` entry point ``execsrv`` once execsrv
is installed (``-p no:execsrv`` turns it off); ``import execsrv`` never imports it. The
fixtures are trio fixtures, so they need pytest-trio (``pip install execsrv[pytest]``)
and tests run by it: ``trio_mode = true`` in the pytest configuration, or
``@pytest.mark.trio`` on each test.

- ``execsrv_base_config``: ``ServerConfig()``; override this fixture (in a conftest.py)
  to change the config for a directory.
- ``execsrv_server_config``: the :class:`~execsrv.ServerConfig` the other fixtures use:
  ``execsrv_base_config`` with the fields of ``@pytest.mark.execsrv_config(kill_grace=0.5,
  ...)`` markers replaced (the closest marker wins a field).
- ``execsrv_server``: an in-process :class:`~execsrv.ExecServer` on a free 127.0.0.1
  port, shut down (children reaped) after the test.
- ``execsrv_client``: a :class:`~execsrv.Client` connected to ``execsrv_server``.
- ``execsrv_backend``: an :class:`~execsrv.backend.ExecBackend`, parametrized so a test
  runs twice, as ``[local]`` (:class:`~execsrv.backend.LocalBackend`, in the test's
  process) and ``[remote]`` (:class:`~execsrv.backend.RemoteBackend` over a client of
  its own server on a free port).
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from functools import partial
from typing import TYPE_CHECKING

import pytest

# pytest imports this module in every run where execsrv is installed, before coverage
# starts: the rest of execsrv (and trio) is imported when a fixture is first used.
if TYPE_CHECKING:
    from .backend import ExecBackend
    from .client import Client
    from .process import ProcessLimits
    from .server import ExecServer, ServerConfig

__all__ = [
    "execsrv_backend",
    "execsrv_base_config",
    "execsrv_client",
    "execsrv_server",
    "execsrv_server_config",
]

CONFIG_MARKER = "execsrv_config"
LOOPBACK = "127.0.0.1"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{CONFIG_MARKER}(**fields): ServerConfig fields for execsrv's fixtures in this test",
    )


@pytest.fixture
def execsrv_base_config() -> ServerConfig:
    """The config before markers apply; the fixture to override for a directory."""
    from .server import ServerConfig

    return ServerConfig()


@pytest.fixture
def execsrv_server_config(
    request: pytest.FixtureRequest, execsrv_base_config: ServerConfig
) -> ServerConfig:
    """``execsrv_base_config`` with the fields of this test's ``execsrv_config`` markers
    (the closest marker wins a field)."""
    config = execsrv_base_config
    for marker in reversed(list(request.node.iter_markers(CONFIG_MARKER))):
        if marker.args:
            raise pytest.UsageError(f"{CONFIG_MARKER} takes keyword arguments only")
        config = dataclasses.replace(config, **marker.kwargs)
    return config


def process_limits(config: ServerConfig) -> ProcessLimits:
    """The limits a server with ``config`` gives its processes, for the local backend."""
    from .process import ProcessLimits

    return ProcessLimits(
        retained_output_bytes=config.retention_bytes,
        exited_retention_seconds=config.exited_retention,
        kill_grace_seconds=config.kill_grace,
        reader_timeout_seconds=config.reader_timeout,
    )


@pytest.fixture
async def execsrv_server(execsrv_server_config: ServerConfig) -> AsyncIterator[ExecServer]:
    """A server listening on a free 127.0.0.1 port (its ``url`` has the port)."""
    import trio

    from .server import serve

    async with trio.open_nursery() as nursery:
        yield await nursery.start(
            partial(serve, f"ws://{LOOPBACK}:0", config=execsrv_server_config)
        )
        nursery.cancel_scope.cancel()


@pytest.fixture
async def execsrv_client(execsrv_server: ExecServer) -> AsyncIterator[Client]:
    """A client connected to ``execsrv_server``, closed after the test."""
    from .client import connect

    assert execsrv_server.url is not None
    async with connect(execsrv_server.url, client_name="pytest") as client:
        yield client


@pytest.fixture(params=["local", "remote"])
async def execsrv_backend(
    request: pytest.FixtureRequest, execsrv_server_config: ServerConfig
) -> AsyncIterator[ExecBackend]:
    """Each test that takes this runs on both backends, with the same config."""
    import trio

    from .backend import LocalBackend, RemoteBackend
    from .client import connect
    from .server import serve

    if request.param == "local":
        async with LocalBackend.open(process_limits(execsrv_server_config)) as local:
            yield local
        return
    async with trio.open_nursery() as nursery:
        server: ExecServer = await nursery.start(
            partial(serve, f"ws://{LOOPBACK}:0", config=execsrv_server_config)
        )
        assert server.url is not None
        async with connect(server.url, client_name="pytest-backend") as client:
            yield RemoteBackend(client)
        nursery.cancel_scope.cancel()
