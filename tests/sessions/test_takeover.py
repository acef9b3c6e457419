"""Resume takes over an attached session (DESIGN.md §1.1.2)."""

from __future__ import annotations

import pytest
import trio

import execsrv

from ..conftest import CHILD_ENV
from ..wire import WireClosed, open_wire

RESUMED = "session has been resumed by another connection"


async def test_resume_evicts_pending_long_poll_and_closes_old(server: execsrv.ExecServer) -> None:
    assert server.url is not None
    async with open_wire(server.url) as old:
        session_id = await old.handshake()
        started = await old.request(
            "process/start",
            {
                "processId": "p",
                "argv": ["cat"],
                "cwd": "/",
                "env": CHILD_ENV,
                "tty": False,
                "pipeStdin": True,
            },
        )
        assert started["result"] == {"processId": "p"}
        await old.send(
            {
                "id": 50,
                "method": "process/read",
                "params": {"processId": "p", "afterSeq": 0, "waitMs": 60_000},
            }
        )
        async with open_wire(server.url) as new:
            with trio.fail_after(10):
                resumed = await new.request(
                    "initialize", {"clientName": "new", "resumeSessionId": session_id}
                )
                assert resumed["result"]["sessionId"] == session_id
                evicted_read = await old.response(50)
                assert evicted_read["error"] == {"code": -32600, "message": RESUMED}
                code, reason = await old.wait_closed()
                assert code == 1008
                assert reason == RESUMED
                await new.notify("initialized", {})
                write = await new.request("process/write", {"processId": "p", "chunk": "aGkK"})
                assert write["result"] == {"status": "accepted"}
                output = await new.next_notification("process/output")
                assert output["params"]["chunk"] == "aGkK"


async def test_racing_resumes_leave_one_owner(server: execsrv.ExecServer) -> None:
    assert server.url is not None
    async with open_wire(server.url) as first:
        session_id = await first.handshake()
        results: dict[int, dict] = {}
        with trio.fail_after(10):
            async with open_wire(server.url) as a, open_wire(server.url) as b:

                async def resume(index: int, wire) -> None:
                    try:
                        results[index] = await wire.request(
                            "initialize", {"clientName": f"r{index}", "resumeSessionId": session_id}
                        )
                        await wire.notify("initialized", {})
                    except WireClosed:
                        pass  # evicted by the other resume right after its own

                async with trio.open_nursery() as nursery:
                    nursery.start_soon(resume, 0, a)
                    nursery.start_soon(resume, 1, b)
                assert results
                assert all(r["result"]["sessionId"] == session_id for r in results.values())
                alive = []
                for wire in (a, b):
                    try:
                        reply = await wire.request("process/list", {})
                    except WireClosed:
                        continue
                    if "result" in reply:
                        alive.append(wire)
                assert len(alive) == 1
            with pytest.raises(WireClosed):
                await first.request("process/list", {})
