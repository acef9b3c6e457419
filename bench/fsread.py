"""Workload 11: ``fs/readFile`` of a 10 MiB file, one read after another.

The load generator writes the file once per run (random bytes, so the page
cache holds it and nothing compresses), then sends ``fs/readFile`` requests
one at a time and times each request → reply; the reply's base64 is decoded
and its length checked, for both servers alike. MB/s counts file bytes.
"""

from __future__ import annotations

import os
import tempfile

import msgspec

from .servers import CpuWatch, Server
from .workloads import Sizes
from .wsclient import WsClient


class _ReadResult(msgspec.Struct):
    dataBase64: bytes  # the wire name; msgspec decodes the base64


_decode_result = msgspec.json.Decoder(_ReadResult).decode


def fs_read(server: Server, sizes: Sizes) -> dict[str, object]:
    size, count = sizes.fs_read_bytes, sizes.fs_read_count
    with tempfile.TemporaryDirectory(prefix="bench-fs-") as scratch:
        path = os.path.join(scratch, "file")
        with open(path, "wb") as handle:
            handle.write(os.urandom(size))
        client = WsClient(server.url, mode="nodelay")
        try:
            client.initialize()

            def read() -> None:
                reply = client.call("fs/readFile", {"path": path})
                got = len(_decode_result(reply.result).dataBase64)
                if got != size:
                    raise RuntimeError(f"fs/readFile returned {got} of {size} bytes")

            read()  # warm-up: page cache, first-use allocations
            watch = CpuWatch(server.pid)
            for _ in range(count):
                read()
            watch.stop()
            wall = watch.seconds
        finally:
            client.close()
    return {
        "file_bytes": size,
        "reads": count,
        "seconds": wall,
        "mb_per_s": size * count / wall / 1e6,
        "ms_per_read": wall / count * 1e3,
        **watch.percents(),
    }
