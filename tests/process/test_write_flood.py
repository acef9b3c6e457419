"""Pipelined ``process/write``s to a child that does not read its stdin do not queue
without bound: past a budget of unanswered writes the server stops reading the
connection, and everything still arrives, in order, once the child reads.

The server runs in the test's trio run: once every task is blocked (the flooding
sender on a full socket, the server's reader on the budget), what the server holds
is final, so the bound is checked without timing.
"""

from __future__ import annotations

import os
from pathlib import Path

import trio
import trio.testing

from execsrv.process import ManagedProcess
from execsrv.server.connection import UNANSWERED_REQUEST_BYTES

from ..wire import open_wire
from .conftest import StartServer
from .support import b64, exec_params, unb64

PIECE = 2 << 20
WRITES = 10
"""20 MiB in all: well above the budget (8 MiB) plus one write."""

# Waits for the test's go on a FIFO, then counts its stdin.
DRAIN_LATER = 'read go < "$1"; wc -c'


async def test_pipelined_writes_to_a_child_that_does_not_read_are_bounded(
    start_server: StartServer, nursery: trio.Nursery, tmp_path: Path
) -> None:
    server = await start_server()
    assert server.url is not None
    fifo = tmp_path / "go"
    fifo_path = str(fifo)
    os.mkfifo(fifo_path)
    piece = b64(bytes(range(256)) * (PIECE // 256))
    async with open_wire(server.url) as wire:
        session_id = await wire.handshake()
        with trio.fail_after(20):
            argv = ["sh", "-c", DRAIN_LATER, "sh", fifo_path]
            params = {**exec_params("p", argv), "pipeStdin": True}
            assert "result" in await wire.request("process/start", params)
            session = server.registry.lookup(session_id)
            assert session is not None
            managed = session.processes["p"]
            assert isinstance(managed, ManagedProcess)

            async def flood() -> None:
                for index in range(WRITES):
                    write = {"processId": "p", "chunk": piece}
                    await wire.send({"id": 100 + index, "method": "process/write", "params": write})
                await wire.send(
                    {"id": 2, "method": "process/closeStdin", "params": {"processId": "p"}}
                )

            nursery.start_soon(flood)
            await trio.testing.wait_all_tasks_blocked(cushion=0.1)
            assert managed.stdin_queued_bytes <= UNANSWERED_REQUEST_BYTES + PIECE

            go = await trio.open_file(fifo, "wb", buffering=0)
            await go.write(b"go\n")
            await go.aclose()
            for index in range(WRITES):
                assert (await wire.response(100 + index))["result"] == {"status": "accepted"}
            assert (await wire.response(2))["result"] == {"status": "accepted"}
            counted = await wire.next_notification("process/output")
            assert unb64(counted["params"]["chunk"]).strip() == str(WRITES * PIECE).encode()
