"""Workload 11: ``fs/readFile`` of a 10 MiB file, one read after another; and
workload 11b: one read of a 256 MiB file on a fresh server, its time and the
server's peak RSS.

The load generator writes the file once per run (random bytes, so the page
cache holds it and nothing compresses), then sends ``fs/readFile`` requests
one at a time and times each request → reply; the reply's base64 is decoded
and its length checked, for both servers alike. MB/s counts file bytes.
"""

from __future__ import annotations

import os
import tempfile

import msgspec

from .servers import CpuWatch, Server, memory_kb, wire_path
from .workloads import Sizes
from .wsclient import WsClient


class _ReadResult(msgspec.Struct):
    dataBase64: bytes  # the wire name; msgspec decodes the base64


_decode_result = msgspec.json.Decoder(_ReadResult).decode


def _write_random(path: str, size: int) -> None:
    with open(path, "wb") as handle:
        for start in range(0, size, 1 << 24):
            handle.write(os.urandom(min(1 << 24, size - start)))


def fs_read_large(server: Server, sizes: Sizes) -> dict[str, object]:
    """One read of ``sizes.fs_large_bytes`` on a fresh server: seconds from the request
    to the decoded reply, and the server's peak RSS (VmHWM) against its RSS before."""
    size = sizes.fs_large_bytes
    with tempfile.TemporaryDirectory(prefix="bench-fs-") as scratch:
        path = os.path.join(scratch, "file")
        _write_random(path, size)
        client = WsClient(server.url, mode="nodelay", timeout=300.0)
        try:
            client.initialize()
            before = memory_kb(server.pid)
            watch = CpuWatch(server.pid)
            reply = client.call("fs/readFile", {"path": wire_path(path, uri=server.speaks_uris)})
            got = len(_decode_result(reply.result).dataBase64)
            watch.stop()
            after = memory_kb(server.pid)
        finally:
            client.close()
    if got != size:
        raise RuntimeError(f"fs/readFile returned {got} of {size} bytes")
    return {
        "file_bytes": size,
        "seconds": watch.seconds,
        "rss_before_kb": before["VmRSS"],
        "peak_rss_kb": after["VmHWM"],
        "rss_after_kb": after["VmRSS"],
        **watch.percents(),
    }


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
                reply = client.call(
                    "fs/readFile", {"path": wire_path(path, uri=server.speaks_uris)}
                )
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
