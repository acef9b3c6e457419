"""A client that reads output with ``process/read`` gets it whole: the child is held
back instead of its unread output being evicted (issue 10, point 7).

The codex 0.130 harness treats ``process/output`` notifications as wake-ups only: after
each one it sends ``process/read {afterSeq: <last seq seen>, waitMs: 0}``, builds the
output from the read results and ignores ``truncated`` (codex-harness.md §3.1 step 4,
§5.6). :class:`Harness0130` behaves exactly so, over a raw websocket.

The server runs in the test's trio run (real sockets, real children), so its retained
bytes are looked at between reads.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import pytest
import trio

import execsrv
from execsrv.process import ManagedProcess

from ..wire import WireClient, open_wire
from .conftest import StartServer
from .support import exec_params, py, unb64

BURST = 7 << 20
"""A burst seven times the default retention."""

# Writes BURST bytes of a counting pattern (every block differs) as fast as the pipe
# or terminal takes them; raw mode so a PTY passes the bytes unchanged.
FLOOD = f"""
import os, sys, tty
if sys.argv[1] == "pty":
    tty.setraw(1)
block = 1 << 16
for index in range({BURST} // block):
    view = memoryview(index.to_bytes(4, "big") * (block // 4))
    while view:
        view = view[os.write(1, view):]
"""


def _expected() -> bytes:
    block = 1 << 16
    return b"".join(i.to_bytes(4, "big") * (block // 4) for i in range(BURST // block))


def _managed(server: execsrv.ExecServer, session_id: str, process_id: str) -> ManagedProcess:
    entry = server.registry.lookup(session_id)
    assert entry is not None
    managed = entry.processes[process_id]
    assert isinstance(managed, ManagedProcess)
    return managed


class Harness0130:
    """What the codex 0.130 harness does with one process's output."""

    def __init__(self, wire: WireClient, process_id: str) -> None:
        self.wire = wire
        self.process_id = process_id
        self.output = bytearray()
        self.last: int | None = None
        self.reads = 0
        self.truncated = False
        """Whether any read said ``truncated`` (the harness itself ignores it)."""

    async def read(self) -> dict[str, object]:
        params = {"processId": self.process_id, "afterSeq": self.last, "maxBytes": None}
        result = (await self.wire.request("process/read", {**params, "waitMs": 0}))["result"]
        self.reads += 1
        self.truncated |= result["truncated"]
        for chunk in result["chunks"]:  # `truncated` is ignored, as the harness does
            if self.last is None or chunk["seq"] > self.last:
                self.output += unb64(chunk["chunk"])
                self.last = chunk["seq"]
        return result  # type: ignore[no-any-return]

    async def run(self, after_each_read: Callable[[], None]) -> None:
        """Read at once, then after every notification of the process, until a read
        says ``closed``; call ``after_each_read`` after each."""
        result = await self.read()
        while not result["closed"]:
            await self.wire.next_notification(
                predicate=lambda m: m["params"].get("processId") == self.process_id
            )
            result = await self.read()
            after_each_read()


@pytest.mark.parametrize("tty", [False, True], ids=["pipe", "pty"])
async def test_a_0_130_reader_gets_a_7_mb_burst_whole_with_default_settings(
    start_server: StartServer, tty: bool
) -> None:
    server = await start_server()  # default retention (1 MiB) and reader timeout
    assert server.url is not None
    retention = server.config.retention_bytes
    peak = 0
    with trio.fail_after(60):
        async with open_wire(server.url) as wire:
            session_id = await wire.handshake()
            argv = [*py(FLOOD), "pty" if tty else "pipe"]
            started = await wire.request("process/start", exec_params("p", argv, tty=tty))
            assert started["result"] == {"processId": "p"}
            managed = _managed(server, session_id, "p")

            def look() -> None:
                nonlocal peak
                peak = max(peak, managed.retained_bytes)

            harness = Harness0130(wire, "p")
            await harness.run(look)
    assert peak <= retention
    assert not harness.truncated
    assert len(harness.output) == BURST
    assert hashlib.sha256(harness.output).digest() == hashlib.sha256(_expected()).digest()


async def _notified_output(wire: WireClient, process_id: str) -> tuple[bytes, int]:
    """Every output byte of the process's notifications, in seq order, and the seq of
    ``closed``: what a client that does not read receives."""
    received: dict[int, bytes] = {}
    while True:
        message = await wire.next_notification(
            predicate=lambda m: m["params"].get("processId") == process_id
        )
        params = message["params"]
        if message["method"] == "process/output":
            received[params["seq"]] = unb64(params["chunk"])
        elif message["method"] == "process/closed":
            return b"".join(received[seq] for seq in sorted(received)), params["seq"]


async def test_a_client_that_never_reads_still_sees_eviction_and_truncated(
    start_server: StartServer,
) -> None:
    """Notifications carry everything; retention keeps the last 1 MiB and says
    ``truncated``, as codex's 0.130 server and execsrv always did. The 0.130 process
    is paced from its start, but with no read coming it is held only the short
    ``first_read_seconds`` (the reader timeout here is far past the test's deadline)."""
    server = await start_server(reader_timeout=600)
    assert server.url is not None
    with trio.fail_after(60):
        async with open_wire(server.url) as wire:
            await wire.handshake()
            argv = [*py(FLOOD), "pipe"]
            assert "result" in await wire.request("process/start", exec_params("p", argv))
            output, _ = await _notified_output(wire, "p")
            read = {"processId": "p", "afterSeq": 0, "maxBytes": None, "waitMs": 0}
            result = (await wire.request("process/read", read))["result"]
    assert output == _expected()
    assert result["truncated"] is True
    kept = b"".join(unb64(chunk["chunk"]) for chunk in result["chunks"])
    assert 0 < len(kept) <= server.config.retention_bytes
    assert _expected().endswith(kept)


READER_TIMEOUT = 0.25
"""Short, so the test is quick; the hold it bounds is measured on the real clock (the
autojump clock would fire it while the real child is merely writing)."""


async def test_a_reader_that_stops_reading_holds_the_child_only_for_the_reader_timeout(
    start_server: StartServer,
) -> None:
    """It read once, then takes notifications only (as a resumed 0.171 client does):
    the child waits ``reader_timeout`` for a read, then eviction resumes and the
    burst reaches it as notifications."""
    server = await start_server(reader_timeout=READER_TIMEOUT)
    assert server.url is not None
    with trio.fail_after(60):
        async with open_wire(server.url) as wire:
            session_id = await wire.handshake()
            argv = [*py(FLOOD), "pipe"]
            assert "result" in await wire.request("process/start", exec_params("p", argv))
            read = {"processId": "p", "afterSeq": None, "maxBytes": None, "waitMs": 0}
            assert "result" in await wire.request("process/read", read)
            began = trio.current_time()
            managed = _managed(server, session_id, "p")
            assert managed.paced
            output, closed_seq = await _notified_output(wire, "p")
            held_for = trio.current_time() - began
            assert not managed.paced  # it stopped pacing, and no read came since
            result = (await wire.request("process/read", {**read, "afterSeq": 0}))["result"]
    assert held_for >= READER_TIMEOUT  # held once, then let go
    assert output == _expected()
    assert result["truncated"] is True
    assert result["closedSeq"] == closed_seq
