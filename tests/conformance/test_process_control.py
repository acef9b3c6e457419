"""``process/write`` and ``terminate``, sessions, concurrency (spec §4.5, §4.6, §8, §1.5)."""

from __future__ import annotations

import pytest
import trio

from execsrv.protocol.generation import Generation

from ..servers import ServerKind
from ..wire import WireClient, open_wire
from .support import (
    V0_130,
    WAIT,
    b64,
    error,
    events_until_closed,
    exit_code_of,
    killed_exit_code,
    output_of,
    read,
    run_to_close,
    start,
    unb64,
    write,
    write_params,
)


async def terminate(wire: WireClient, process_id: str) -> dict[str, object]:
    return await wire.request("process/terminate", {"processId": process_id})


# -- write -----------------------------------------------------------------------


async def test_write_to_unknown_process(wire: WireClient, generation: Generation) -> None:
    with trio.fail_after(WAIT):
        response = await write(wire, generation, "nope", b"x")
    assert response["result"] == {"status": "unknownProcess"}


async def test_write_reaches_a_piped_cat(wire: WireClient, generation: Generation) -> None:
    with trio.fail_after(WAIT):
        await start(wire, generation, "p", ["cat"], pipeStdin=True)
        assert (await write(wire, generation, "p", b"hello\n"))["result"] == {"status": "accepted"}
        assert (await write(wire, generation, "p", b""))["result"] == {"status": "accepted"}
        echoed = bytearray()
        while echoed != b"hello\n":
            output = await wire.next_notification("process/output")
            assert output["params"]["processId"] == "p"
            echoed += unb64(output["params"]["chunk"])
        assert (await terminate(wire, "p"))["result"] == {"running": True}


async def test_write_without_pipe_stdin_is_stdin_closed(
    wire: WireClient, generation: Generation
) -> None:
    with trio.fail_after(WAIT):
        await start(wire, generation, "p", ["sh", "-c", "read x; echo never"])
        running = await write(wire, generation, "p", b"x\n")
        assert running["result"] == {"status": "stdinClosed"}
        events = await events_until_closed(wire, "p")
        exited = await write(wire, generation, "p", b"x\n")
    assert exited["result"] == {"status": "stdinClosed"}  # running or exited alike
    assert output_of(events) == b"never\n"  # `read` saw EOF on /dev/null


async def test_write_to_a_pty_after_exit_is_accepted(
    wire: WireClient, generation: Generation
) -> None:
    """Quirk kept from the reference: the bytes are discarded."""
    with trio.fail_after(WAIT):
        await run_to_close(wire, generation, "p", ["true"], tty=True)
        response = await write(wire, generation, "p", b"x")
    assert response["result"] == {"status": "accepted"}


@pytest.mark.parametrize("mode", [{"pipeStdin": True}, {"tty": True}])
async def test_write_after_terminate(
    wire: WireClient,
    kind: ServerKind,
    mode: dict[str, bool],
    generation: Generation,
) -> None:
    with trio.fail_after(WAIT):
        await start(wire, generation, "p", ["cat"], **mode)
        assert (await terminate(wire, "p"))["result"] == {"running": True}
        at_once = await write(wire, generation, "p", b"x")
        await events_until_closed(wire, "p")
        after_close = await write(wire, generation, "p", b"x")
    for response in (at_once, after_close):
        if kind == "codex":
            # DESIGN §1.1.4: codex answers -32603 once terminate dropped the stdin writer.
            assert response["error"] == error(-32603, "failed to write to process stdin")
        else:
            # DESIGN §1.1.4: execsrv answers a write status instead.
            assert response["result"] == {"status": "stdinClosed"}


async def test_write_after_a_piped_process_exits_is_accepted(
    wire: WireClient, generation: Generation
) -> None:
    """Without terminate the stdin writer lives on: bytes are accepted, then discarded."""
    with trio.fail_after(WAIT):
        await run_to_close(wire, generation, "p", ["sh", "-c", "exit 0"], pipeStdin=True)
        for _ in range(3):
            assert (await write(wire, generation, "p", b"x" * 70_000))["result"] == {
                "status": "accepted"
            }
        # Exited by a signal it sent itself: still not a terminate.
        await run_to_close(wire, generation, "k", ["sh", "-c", "kill -9 $$"], pipeStdin=True)
        assert (await write(wire, generation, "k", b"x"))["result"] == {"status": "accepted"}
        # terminate after the exit is a no-op, and changes nothing.
        assert (await terminate(wire, "p"))["result"] == {"running": False}
        assert (await write(wire, generation, "p", b"x"))["result"] == {"status": "accepted"}


async def test_write_after_the_child_closed_stdin_is_accepted(
    wire: WireClient, generation: Generation
) -> None:
    with trio.fail_after(WAIT):
        await start(
            wire,
            generation,
            "p",
            ["sh", "-c", "exec 0<&-; echo closed; exec sleep 30"],
            pipeStdin=True,
        )
        closed = await wire.next_notification("process/output")
        assert unb64(closed["params"]["chunk"]) == b"closed\n"
        for _ in range(3):
            assert (await write(wire, generation, "p", b"x\n"))["result"] == {"status": "accepted"}
            await trio.sleep(0.05)  # let a broken pipe show, if it would
        assert (await terminate(wire, "p"))["result"] == {"running": True}


async def test_write_id(
    wire: WireClient, kind: ServerKind, generation: Generation, request: pytest.FixtureRequest
) -> None:
    """codex-exec-server-0.171.md §2.3: 0.171 requires a non-empty ``writeId`` and
    acknowledges a repeated one without writing again."""
    if generation is V0_130:
        pytest.skip("writeId is a 0.171 field")
    with trio.fail_after(WAIT):
        await start(wire, generation, "p", ["cat"], pipeStdin=True)
        params = {"processId": "p", "chunk": b64(b"a\n")}
        missing = await wire.request("process/write", params)
        empty = await wire.request("process/write", {**params, "writeId": ""})
        first = await wire.request("process/write", {**params, "writeId": "once"})
        again = await wire.request("process/write", {**params, "writeId": "once"})
        assert (await write(wire, generation, "p", b"b\n"))["result"] == {"status": "accepted"}
        echoed = bytearray()
        while not echoed.endswith(b"b\n"):
            output = await wire.next_notification("process/output")
            echoed += unb64(output["params"]["chunk"])
        await terminate(wire, "p")
    if kind == "codex":
        assert missing["error"] == error(-32602, "missing field `writeId`")
    else:
        # execsrv reads a write without writeId as 0.130's, in any session (issue 10, point 3).
        assert missing["result"] == {"status": "accepted"}
    assert empty["error"] == error(-32602, "writeId must not be empty")
    assert first["result"] == again["result"] == {"status": "accepted"}
    # The repeated id wrote nothing; execsrv also wrote the write without an id.
    assert bytes(echoed) == (b"a\nb\n" if kind == "codex" else b"a\na\nb\n")


# -- terminate ---------------------------------------------------------------------


async def test_terminate(
    wire: WireClient, generation: Generation, kind: ServerKind, request: pytest.FixtureRequest
) -> None:
    with trio.fail_after(WAIT):
        await start(
            wire,
            generation,
            "p",
            ["sh", "-c", "trap 'echo trapped' TERM; echo ready; cat"],
            pipeStdin=True,
        )
        ready = await wire.next_notification("process/output")
        assert unb64(ready["params"]["chunk"]) == b"ready\n"
        wire.notifications.insert(0, ready)  # events_until_closed wants every seq
        assert (await terminate(wire, "p"))["result"] == {"running": True}
        events = await events_until_closed(wire, "p")
        assert (await terminate(wire, "p"))["result"] == {"running": False}
    assert exit_code_of(events) == killed_exit_code(generation)
    assert b"trapped" not in output_of(events)  # SIGKILL: no handler runs


async def test_terminate_unknown_or_exited(wire: WireClient, generation: Generation) -> None:
    with trio.fail_after(WAIT):
        assert (await terminate(wire, "nope"))["result"] == {"running": False}
        await run_to_close(wire, generation, "done", ["true"])
        assert (await terminate(wire, "done"))["result"] == {"running": False}


def _gone(pid: int) -> bool:
    """True once ``pid`` no longer runs (reaped, or a zombie awaiting its reaper)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except (FileNotFoundError, ProcessLookupError):  # reaped before or while reading
        return True


async def test_terminate_kills_the_whole_process_group(
    wire: WireClient, generation: Generation, kind: ServerKind, request: pytest.FixtureRequest
) -> None:
    script = "sleep 300 & echo $!; sh -c 'sleep 300' & echo $!; echo end; wait"
    with trio.fail_after(WAIT):
        await start(wire, generation, "p", ["sh", "-c", script])
        text = b""
        seen = []
        while not text.endswith(b"end\n"):
            seen.append(await wire.next_notification("process/output"))
            text += unb64(seen[-1]["params"]["chunk"])
        wire.notifications[:0] = seen  # events_until_closed wants every seq
        pids = [int(line) for line in text.split()[:2]]
        assert not any(_gone(pid) for pid in pids)
        assert (await terminate(wire, "p"))["result"] == {"running": True}
        events = await events_until_closed(wire, "p")
        # The pipes closed, so they have exited; give the kernel a moment to
        # finish turning them into zombies (no event to wait on for a foreign pid).
        while not all(_gone(pid) for pid in pids):  # noqa: ASYNC110
            await trio.sleep(0.01)
    assert exit_code_of(events) == killed_exit_code(generation)


# -- sessions ------------------------------------------------------------------------


async def test_processes_are_invisible_to_other_sessions(
    wire: WireClient,
    url: str,
    kind: ServerKind,
    generation: Generation,
) -> None:
    with trio.fail_after(WAIT):
        await start(wire, generation, "p", ["cat"], pipeStdin=True)
        async with open_wire(url) as other:
            await other.handshake()
            response = await other.request("process/read", {"processId": "p"})
            assert response["error"] == error(-32600, "unknown process id p")
            assert (await write(other, generation, "p", b"x"))["result"] == {
                "status": "unknownProcess"
            }
            assert (await terminate(other, "p"))["result"] == {"running": False}
            # The same id is free in the other session.
            events = await run_to_close(other, generation, "p", ["sh", "-c", "echo other"])
            assert output_of(events) == b"other\n"
        # Ours is untouched.
        assert (await write(wire, generation, "p", b"mine\n"))["result"] == {"status": "accepted"}
        assert (await read(wire, generation, kind, "p", afterSeq=0, waitMs=10_000))["chunks"][0][
            "chunk"
        ] == b64(b"mine\n")
        assert (await terminate(wire, "p"))["result"] == {"running": True}


# -- concurrency (DESIGN §1.1.1) -----------------------------------------------------------


async def test_long_poll_and_a_following_request(
    wire: WireClient, kind: ServerKind, generation: Generation
) -> None:
    with trio.fail_after(WAIT):
        await start(wire, generation, "p", ["cat"], pipeStdin=True)
        began = trio.current_time()
        await wire.send(
            {
                "id": "poll",
                "method": "process/read",
                "params": {"processId": "p", "afterSeq": 0, "waitMs": 1500},
            }
        )
        await wire.send(
            {"id": "next", "method": "process/terminate", "params": {"processId": "nope"}}
        )
        first = None
        while first is None:
            message = await wire.recv()
            if "id" in message:
                first = message
            else:
                wire.notifications.append(message)
        first_at = trio.current_time() - began
        second = await wire.response("poll" if first["id"] == "next" else "next")
        await terminate(wire, "p")
    if kind == "codex":
        # DESIGN §1.1.1: codex handles one request at a time, in arrival order,
        # so the long-poll holds back the request behind it.
        assert first["id"] == "poll"
        assert second == {"id": "next", "result": {"running": False}}
        assert first_at >= 1.4
    else:
        # DESIGN §1.1.1: execsrv runs requests concurrently; no head-of-line blocking.
        assert first == {"id": "next", "result": {"running": False}}
        assert second["id"] == "poll"
        assert first_at < 1.0
    assert (first if first["id"] == "poll" else second)["result"]["chunks"] == []


async def test_write_is_not_stuck_behind_a_long_poll(
    wire: WireClient, kind: ServerKind, generation: Generation
) -> None:
    """On execsrv a write wakes the long-poll before it; on codex it waits its turn."""
    with trio.fail_after(WAIT):
        await start(wire, generation, "p", ["cat"], pipeStdin=True)
        began = trio.current_time()
        await wire.send(
            {
                "id": "poll",
                "method": "process/read",
                "params": {"processId": "p", "afterSeq": 0, "waitMs": 1500},
            }
        )
        await wire.send(
            {
                "id": "write",
                "method": "process/write",
                "params": write_params(generation, "p", b64(b"wake\n")),
            }
        )
        poll = await wire.response("poll")
        polled_at = trio.current_time() - began
        assert (await wire.response("write"))["result"] == {"status": "accepted"}
        await terminate(wire, "p")
    if kind == "codex":
        # DESIGN §1.1.1: codex runs the write only after the read timed out.
        assert poll["result"]["chunks"] == []
        assert polled_at >= 1.4
    else:
        # DESIGN §1.1.1: the write runs at once and its echo wakes the read.
        assert [unb64(c["chunk"]) for c in poll["result"]["chunks"]] == [b"wake\n"]
        assert polled_at < 1.4
