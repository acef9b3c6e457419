"""Workload 12: a burst read the way the codex 0.130 harness reads output.

The 0.130 harness treats ``process/output`` notifications as wake-ups: after each
one it sends ``process/read {afterSeq: <last seq seen>, maxBytes: null, waitMs: 0}``
and builds the output from the read results, ignoring ``truncated``
(codex-harness.md §3.1 step 4, §5.6). Both servers retain 1 MiB per process: codex
evicts what that reader has not read yet; execsrv holds the child back instead.
"""

from __future__ import annotations

import base64

import msgspec

from .servers import CpuWatch, Server, memory_kb
from .workloads import Sizes, _start_params
from .wsclient import Message, WsClient

PROCESS_ID = "burst"


def _expected(count: int) -> bytes:
    return "".join(f"{n}\n" for n in range(1, count + 1)).encode()


def _notified(messages: list[Message]) -> bool:
    return any(m.method and m.params and m.params.processId == PROCESS_ID for m in messages)


def harness_read(server: Server, sizes: Sizes) -> dict[str, object]:
    """``seq 1 N`` (6.9 MB for a million) read as the 0.130 harness reads it: bytes
    lost, wall time, reads, and the server's peak RSS."""
    expected = _expected(sizes.harness_seq_count)
    client = WsClient(server.url, mode="nodelay")
    try:
        client.initialize()
        before = memory_kb(server.pid)
        watch = CpuWatch(server.pid)
        argv = ["seq", "1", str(sizes.harness_seq_count)]
        client.call("process/start", _start_params(PROCESS_ID, argv))
        output = bytearray()
        last: int | None = None
        reads = 0
        truncated = 0
        while True:
            params = {"processId": PROCESS_ID, "afterSeq": last, "maxBytes": None, "waitMs": 0}
            result = msgspec.json.decode(bytes(client.call("process/read", params).result))
            reads += 1
            truncated += bool(result.get("truncated"))
            for chunk in result["chunks"]:
                if last is None or chunk["seq"] > last:
                    output += base64.b64decode(chunk["chunk"])
                    last = chunk["seq"]
            if result["closed"]:
                break
            while not _notified(client.recv()):  # the next notification wakes the next read
                pass
        watch.stop()
        after = memory_kb(server.pid)
        return {
            "bytes": len(expected),
            "received": len(output),
            "lost_bytes": len(expected) - len(output),
            "whole": bytes(output) == expected,
            "reads": reads,
            "reads_truncated": truncated,
            "seconds": watch.seconds,
            "rss_before_kb": before["VmRSS"],
            "peak_rss_kb": after["VmHWM"],
            "peak_rss_growth_kb": after["VmHWM"] - before["VmRSS"],
            **watch.percents(),
        }
    finally:
        client.close()
