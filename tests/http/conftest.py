"""Fixtures for the http/request tests: test HTTP(S) servers, a test CA, execsrv.

Everything listens on 127.0.0.1 and is started by the tests. The CA is made
with ``trustme``; execsrv trusts it through ``ServerConfig.http_ca_file``, the
runner through an injected ``SSLContext``.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest
import trustme

import execsrv

from ..conftest import TEST_CONFIG
from .server import HttpServer, open_http_server


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="session")
def ca_file(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


@pytest.fixture(scope="session")
def server_ssl_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    return context


@pytest.fixture(scope="session")
def client_ssl_context(ca: trustme.CA) -> ssl.SSLContext:
    """The system store plus the test CA."""
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


@pytest.fixture
async def http_server() -> AsyncIterator[HttpServer]:
    async with open_http_server() as server:
        yield server


@pytest.fixture
async def https_server(server_ssl_context: ssl.SSLContext) -> AsyncIterator[HttpServer]:
    async with open_http_server(server_ssl_context) as server:
        yield server


@pytest.fixture
def execsrv_base_config(ca_file: Path) -> execsrv.ServerConfig:
    """Servers started here by the plugin (``server``, ``client``) trust the test CA and
    buffer 1 MiB at most."""
    return replace(TEST_CONFIG, http_ca_file=str(ca_file), max_http_body_bytes=1 << 20)


def closed_port() -> int:
    """A 127.0.0.1 port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port
