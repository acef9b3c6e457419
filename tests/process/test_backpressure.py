"""A stalled client loses nothing, and slows the child instead of growing server memory.

DESIGN.md §6: "While attached, every output chunk reaches the client
(backpressure, not drops); a slow client slows the child, it does not grow
server memory without bound."

The server runs as a subprocess so its memory and its child can be inspected
in /proc. The client is a raw websocket that simply stops reading.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
import trio

from execsrv.process.output_log import READ_CHUNK_BYTES
from execsrv.process.spawn import PIPE_CAPACITY
from execsrv.server.connection import OUTBOUND_QUEUE_SIZE

from ..servers import open_execsrv
from ..wire import open_wire
from .support import children_of, exec_params, py, unb64

SOCKET_SLACK = 16 << 20
"""Kernel socket buffers: the server's send buffer and the stalled client's receive buffer."""

MAX_BUFFERED = PIPE_CAPACITY + OUTBOUND_QUEUE_SIZE * READ_CHUNK_BYTES + SOCKET_SLACK
"""Bytes of output the child may get out while nobody reads: its pipe, the server's
outbound queue (a bounded number of messages, each at most one read), the sockets.
About 49 MiB today, which is more than a tight byte budget would allow."""

MAX_SERVER_GROWTH = MAX_BUFFERED + (16 << 20)
"""Server RSS growth allowed while stalled: what it buffers, plus working copies."""

TOTAL = 80 << 20
"""What the child writes: well above everything the path may legitimately buffer."""


def _status_kib(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {key} in /proc/{pid}/status")


def _written(pid: int) -> int:
    """Bytes the process has passed to write(2) so far."""
    for line in Path(f"/proc/{pid}/io").read_text().splitlines():
        if line.startswith("wchar:"):
            return int(line.split()[1])
    raise AssertionError(f"no wchar in /proc/{pid}/io")


async def _wait_blocked(pid: int, marker: Path) -> int:
    """Return the child's byte count once it has stopped making progress.

    "Stopped" means: no new bytes written over several consecutive looks. A child
    that is not held back by backpressure finishes instead (and writes ``marker``).
    """
    last, still = -1, 0
    while still < 5:
        await trio.sleep(0.1)
        assert not await trio.Path(marker).exists(), (
            "the child finished writing while nobody read its output"
        )
        written = _written(pid)
        still = still + 1 if written == last else 0
        last = written
    return last


# Copies a file to stdout, then writes the marker file: the marker exists only once
# every byte has been written into the pipe.
COPY_THEN_MARK = """
import shutil, sys
with open(sys.argv[1], "rb") as f:
    shutil.copyfileobj(f, sys.stdout.buffer, 1 << 16)
sys.stdout.flush()
open(sys.argv[2], "w").close()
"""


@pytest.mark.slow
async def test_stalled_client_gets_every_chunk_and_the_child_is_held_back(
    tmp_path: Path,
) -> None:
    assert TOTAL > MAX_BUFFERED + (8 << 20)
    source, marker = tmp_path / "data", tmp_path / "finished"
    source.write_bytes(os.urandom(TOTAL))
    child = [*py(COPY_THEN_MARK), str(source), str(marker)]
    async with open_execsrv() as server, open_wire(server.url) as wire:
        server_pid = server.process.pid
        with trio.fail_after(60):
            await wire.handshake()
            baseline_kib = _status_kib(server_pid, "VmRSS")
            started = await wire.request("process/start", exec_params("p", child))
            assert started["result"] == {"processId": "p"}
            # Stall: from here on nothing is read from the websocket for a while.
            (child_pid,) = children_of(server_pid)
            buffered = await _wait_blocked(child_pid, marker)
            assert buffered < MAX_BUFFERED, f"{buffered} bytes left the child while stalled"
            growth = (_status_kib(server_pid, "VmHWM") - baseline_kib) << 10
            assert growth < MAX_SERVER_GROWTH, f"server grew by {growth >> 20} MiB while stalled"

            # Resume reading: every chunk, contiguous seqs, the exact bytes.
            digest = hashlib.sha256()
            seqs: list[int] = []
            exited = closed = None
            while closed is None:
                message = await wire.next_notification()
                params = message["params"]
                assert params["processId"] == "p"
                seqs.append(params["seq"])
                if message["method"] == "process/output":
                    assert params["stream"] == "stdout"
                    digest.update(unb64(params["chunk"]))
                elif message["method"] == "process/exited":
                    exited = params
                elif message["method"] == "process/closed":
                    closed = params
        assert exited is not None
        assert exited["exitCode"] == 0
        assert sorted(seqs) == list(range(1, len(seqs) + 1))
        assert closed["seq"] == len(seqs)
        assert digest.digest() == hashlib.sha256(source.read_bytes()).digest()
        assert marker.exists()
