"""Session detach and resume (spec §8); takeover is DESIGN §1.1.2."""

from __future__ import annotations

import uuid

import trio

from execsrv.protocol.generation import Generation

from ..servers import ServerKind
from ..wire import Message, WireClient, open_wire
from .support import V0_130, WAIT, b64, error, read, start, write


def already_attached(generation: Generation, session_id: str) -> dict[str, object]:
    # codex-exec-server-0.171.md §2.2: the same text, with code -32010 in 0.171.
    code = -32600 if generation is V0_130 else -32010
    return error(code, f"session {session_id} is already attached to another connection")


async def resume(client: WireClient, generation: Generation, session_id: str) -> Message:
    """``initialize`` with ``resumeSessionId``, retried while the server still has the
    old connection attached (it may not have seen that connection close yet)."""
    while True:
        response = await client.request(
            "initialize", {"clientName": "resumer", "resumeSessionId": session_id}
        )
        if response.get("error") != already_attached(generation, session_id):
            return response
        # Polling is the point: the server has no way to say when it noticed the close.
        await trio.sleep(0.02)


async def test_unknown_session_id(raw: WireClient) -> None:
    unknown = str(uuid.uuid4())
    with trio.fail_after(WAIT):
        response = await raw.request("initialize", {"clientName": "x", "resumeSessionId": unknown})
    assert response["error"] == error(-32600, f"unknown session id {unknown}")


async def test_resume_after_disconnect_keeps_processes(
    url: str, kind: ServerKind, generation: Generation
) -> None:
    script = "read line; echo got $line; exec cat"
    async with open_wire(url) as first:
        with trio.fail_after(WAIT):
            session_id = await first.handshake()
            await start(first, generation, "p", ["sh", "-c", script], pipeStdin=True)
    async with open_wire(url) as second:
        with trio.fail_after(WAIT):
            resumed = await resume(second, generation, session_id)
            assert resumed["result"]["sessionId"] == session_id  # 0.171 adds environmentInfo
            await second.notify("initialized", {})
            # The process survived the disconnect and is ours again.
            written = await write(second, generation, "p", b"x\n")
            assert written["result"] == {"status": "accepted"}
            result = await read(second, generation, kind, "p", afterSeq=0, waitMs=10_000)
            assert [c["chunk"] for c in result["chunks"]] == [b64(b"got x\n")]
            terminated = await second.request("process/terminate", {"processId": "p"})
    assert terminated["result"] == {"running": True}


async def test_missed_notifications_are_not_replayed(
    url: str, kind: ServerKind, generation: Generation
) -> None:
    async with open_wire(url) as first:
        with trio.fail_after(WAIT):
            session_id = await first.handshake()
            await start(
                first, generation, "p", ["sh", "-c", "read x; echo away; exec cat"], pipeStdin=True
            )
            await write(first, generation, "p", b"go\n")
            away = await first.next_notification("process/output")
            assert away["params"]["seq"] == 1
    async with open_wire(url) as second:
        with trio.fail_after(WAIT):
            assert "result" in await resume(second, generation, session_id)
            await second.notify("initialized", {})
            # Output the first connection was sent is available by reading; it is
            # never sent again to the new connection.
            result = await read(second, generation, kind, "p", afterSeq=0, waitMs=10_000)
            assert [c["chunk"] for c in result["chunks"]] == [b64(b"away\n")]
            await write(second, generation, "p", b"live\n")
            live = await second.next_notification("process/output")
            await second.request("process/terminate", {"processId": "p"})
    assert live["params"]["chunk"] == b64(b"live\n")
    assert live["params"]["seq"] == 2
    assert [n for n in second.notifications if n["params"].get("seq") == 1] == []


async def test_resume_of_an_attached_session(
    url: str, kind: ServerKind, generation: Generation
) -> None:
    async with open_wire(url) as first, open_wire(url) as second:
        with trio.fail_after(WAIT):
            session_id = await first.handshake()
            response = await second.request(
                "initialize", {"clientName": "second", "resumeSessionId": session_id}
            )
            if kind == "codex":
                # DESIGN §1.1.2: codex refuses while the first connection is attached,
                # and the first connection stays fully usable.
                assert response["error"] == already_attached(generation, session_id)
                still = await first.request("process/terminate", {"processId": "p"})
                assert still["result"] == {"running": False}
            else:
                # DESIGN §1.1.2: execsrv's resume takes over and closes the old connection.
                assert response["result"]["sessionId"] == session_id
                await first.wait_closed()
