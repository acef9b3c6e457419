"""Helpers for the fs tests that speak to a real execsrv on the wire."""

from __future__ import annotations

import os
from urllib.parse import quote

import execsrv
from execsrv.protocol.fs import FsReadFileParams
from execsrv.protocol.methods import FS_READ_FILE

__all__ = ["read_file_0130", "uri"]


def uri(path: str | bytes, host: str = "") -> str:
    """``path`` as a ``file:`` URI, built with :func:`urllib.parse.quote` (not with
    execsrv's own formatter)."""
    return f"file://{host}{quote(os.fsencode(path))}"


async def read_file_0130(client: execsrv.Client, path: str | os.PathLike[str]) -> bytes:
    """``fs/readFile`` as a 0.130 request (a plain path), whose read of a FIFO waits
    for data; the client speaks 0.171 to execsrv, where such a read is refused."""
    params = FsReadFileParams(path=os.fspath(path))
    return (await client.call(FS_READ_FILE, params)).data_base64
