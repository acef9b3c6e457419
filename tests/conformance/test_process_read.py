"""``process/read``: retained output, the nextSeq quirk, maxBytes, long-poll (spec §4.4, §7)."""

from __future__ import annotations

from typing import Any

import pytest
import trio

from execsrv.protocol.generation import Generation

from ..servers import ServerKind
from ..wire import Message, WireClient
from .support import (
    V0_130,
    V0_171,
    WAIT,
    b64,
    error,
    killed_exit_code,
    read,
    run_to_close,
    start,
)

# stdout and stderr are separate pipes, so this always makes at least two chunks.
SCRIPT = "printf aaaa; printf bbbbbbbb >&2; sleep 0.05; printf cc; exit 3"


def chunks_of(events: list[Message]) -> list[dict[str, Any]]:
    """The output events as ``process/read`` reports chunks."""
    return [
        {k: e["params"][k] for k in ("seq", "stream", "chunk")}
        for e in events
        if e["method"] == "process/output"
    ]


def size(chunk: dict[str, Any]) -> int:
    return len(chunk["chunk"]) // 4 * 3 - chunk["chunk"].count("=")


def finished(chunks: list[dict[str, Any]], next_seq: int, code: int = 3) -> dict[str, Any]:
    return {
        "chunks": chunks,
        "nextSeq": next_seq,
        "exited": True,
        "exitCode": code,
        "closed": True,
        "failure": None,
    }


async def test_read_after_close_and_the_next_seq_quirk(
    wire: WireClient, kind: ServerKind, generation: Generation, request: pytest.FixtureRequest
) -> None:
    with trio.fail_after(WAIT):
        events = await run_to_close(wire, generation, "p", ["sh", "-c", SCRIPT])
        chunks = chunks_of(events)
        closed_seq = events[-1]["params"]["seq"]
        first = await read(wire, generation, kind, "p")
        if generation is V0_130:
            # nextSeq is the last returned chunk's seq + 1, even though exited and
            # closed took seqs too; the next read then reports the true next seq.
            assert first == finished(chunks, chunks[-1]["seq"] + 1)
        else:
            # codex-exec-server-0.171.md §2.3: with maxBytes null, 0.171's nextSeq is the
            # true next seq; with maxBytes set, the 0.130 rule still holds.
            assert first == finished(chunks, closed_seq + 1)
            bounded = await read(wire, generation, kind, "p", maxBytes=65536)
            assert bounded == finished(chunks, chunks[-1]["seq"] + 1)
        second = await read(wire, generation, kind, "p", afterSeq=first["nextSeq"] - 1)
        assert second == finished([], closed_seq + 1)
        for explicit in ({"afterSeq": None}, {"afterSeq": 0}, {"maxBytes": None, "waitMs": None}):
            assert await read(wire, generation, kind, "p", **explicit) == first


async def test_after_seq_filters(
    wire: WireClient, kind: ServerKind, generation: Generation, request: pytest.FixtureRequest
) -> None:
    with trio.fail_after(WAIT):
        events = await run_to_close(wire, generation, "p", ["sh", "-c", SCRIPT])
        chunks = chunks_of(events)
        closed_seq = events[-1]["params"]["seq"]
        for after in range(closed_seq + 3):
            expected = [c for c in chunks if c["seq"] > after]
            next_seq = expected[-1]["seq"] + 1 if expected else closed_seq + 1
            if generation is V0_171:  # codex-exec-server-0.171.md §2.3: maxBytes is null
                next_seq = closed_seq + 1
            result = await read(wire, generation, kind, "p", afterSeq=after)
            assert result == finished(expected, next_seq), after


@pytest.mark.parametrize("max_bytes", [0, 1])
async def test_tiny_max_bytes_returns_exactly_one_chunk(
    wire: WireClient,
    kind: ServerKind,
    max_bytes: int,
    generation: Generation,
) -> None:
    with trio.fail_after(WAIT):
        events = await run_to_close(wire, generation, "p", ["sh", "-c", SCRIPT])
        chunks = chunks_of(events)
        assert len(chunks) >= 2
        result = await read(wire, generation, kind, "p", maxBytes=max_bytes)
    assert result == finished(chunks[:1], chunks[0]["seq"] + 1)


async def test_max_bytes_budget_stops_before_the_chunk_that_overflows(
    wire: WireClient,
    kind: ServerKind,
    generation: Generation,
) -> None:
    with trio.fail_after(WAIT):
        events = await run_to_close(wire, generation, "p", ["sh", "-c", SCRIPT])
        chunks = chunks_of(events)
        two = size(chunks[0]) + size(chunks[1])
        exact = await read(wire, generation, kind, "p", maxBytes=two)
        short = await read(wire, generation, kind, "p", maxBytes=two - 1)
        rest = await read(
            wire, generation, kind, "p", afterSeq=chunks[0]["seq"], maxBytes=size(chunks[1])
        )
    assert exact["chunks"] == chunks[:2]
    assert exact["nextSeq"] == chunks[1]["seq"] + 1
    assert short["chunks"] == chunks[:1]
    assert rest["chunks"] == chunks[1:2]


async def test_read_of_a_quiet_running_process(
    wire: WireClient, kind: ServerKind, generation: Generation
) -> None:
    with trio.fail_after(WAIT):
        await start(wire, generation, "p", ["cat"], pipeStdin=True)
        result = await read(wire, generation, kind, "p", waitMs=0)
        await wire.request("process/terminate", {"processId": "p"})
    assert result == {
        "chunks": [],
        "nextSeq": 1,
        "exited": False,
        "exitCode": None,
        "closed": False,
        "failure": None,
    }


async def test_read_unknown_process(wire: WireClient) -> None:
    with trio.fail_after(WAIT):
        response = await wire.request("process/read", {"processId": "nope", "waitMs": 5000})
    assert response["error"] == error(-32600, "unknown process id nope")


async def test_long_poll_returns_at_the_deadline(
    wire: WireClient, kind: ServerKind, generation: Generation
) -> None:
    with trio.fail_after(WAIT):
        await start(wire, generation, "p", ["cat"], pipeStdin=True)
        began = trio.current_time()
        result = await read(wire, generation, kind, "p", afterSeq=0, waitMs=700)
        elapsed = trio.current_time() - began
        await wire.request("process/terminate", {"processId": "p"})
    assert 0.65 <= elapsed < WAIT
    assert result["chunks"] == []
    assert result["exited"] is False


async def test_long_poll_wakes_on_output(
    wire: WireClient, kind: ServerKind, generation: Generation
) -> None:
    with trio.fail_after(WAIT):
        await start(
            wire, generation, "p", ["sh", "-c", "sleep 0.4; echo hi; exec cat"], pipeStdin=True
        )
        began = trio.current_time()
        result = await read(wire, generation, kind, "p", afterSeq=0, waitMs=20_000)
        elapsed = trio.current_time() - began
        await wire.request("process/terminate", {"processId": "p"})
    assert 0.2 <= elapsed < WAIT - 2
    assert result["chunks"] == [{"seq": 1, "stream": "stdout", "chunk": b64(b"hi\n")}]
    assert result["nextSeq"] == 2
    assert result["exited"] is False


async def test_long_poll_returns_at_exit_then_output_then_close(
    wire: WireClient,
    kind: ServerKind,
    generation: Generation,
) -> None:
    """Exit is an unseen event, so a waiting read returns for it before ``closed``."""
    script = "sleep 0.3; (sleep 1.5; echo late) & exit 7"
    with trio.fail_after(WAIT):
        await start(wire, generation, "p", ["sh", "-c", script])
        exited = await read(wire, generation, kind, "p", afterSeq=0, waitMs=20_000)
        assert exited == {
            "chunks": [],
            "nextSeq": 2,  # exited took seq 1
            "exited": True,
            "exitCode": 7,
            "closed": False,  # the grandchild still holds stdout
            "failure": None,
        }
        late = await read(wire, generation, kind, "p", afterSeq=1, waitMs=20_000)
        assert late["chunks"] == [{"seq": 2, "stream": "stdout", "chunk": b64(b"late\n")}]
        if generation is V0_130:
            assert late["nextSeq"] == 3
        else:
            # codex-exec-server-0.171.md §2.3: with maxBytes null, 0.171 reports the true
            # next seq, which counts `closed` if the pipe closed before the read returned.
            assert late["nextSeq"] in (3, 4)
        closed = await read(wire, generation, kind, "p", afterSeq=2, waitMs=20_000)
    assert closed == {
        "chunks": [],
        "nextSeq": 4,
        "exited": True,
        "exitCode": 7,
        "closed": True,
        "failure": None,
    }


async def test_long_poll_on_a_closed_process_returns_at_once(
    wire: WireClient,
    kind: ServerKind,
    generation: Generation,
) -> None:
    with trio.fail_after(WAIT):
        events = await run_to_close(wire, generation, "p", ["sh", "-c", SCRIPT])
        closed_seq = events[-1]["params"]["seq"]
        for after in (closed_seq, closed_seq + 100):
            began = trio.current_time()
            result = await read(wire, generation, kind, "p", afterSeq=after, waitMs=20_000)
            assert trio.current_time() - began < 5
            assert result == finished([], closed_seq + 1)


async def test_long_poll_returns_at_once_after_terminate(
    wire: WireClient, kind: ServerKind, generation: Generation, request: pytest.FixtureRequest
) -> None:
    with trio.fail_after(WAIT):
        await start(wire, generation, "p", ["cat"], pipeStdin=True)
        terminated = await wire.request("process/terminate", {"processId": "p"})
        assert terminated["result"] == {"running": True}
        began = trio.current_time()
        result = await read(wire, generation, kind, "p", afterSeq=0, waitMs=20_000)
    assert trio.current_time() - began < 5
    assert result["exited"] is True
    assert result["exitCode"] == killed_exit_code(generation)


async def test_sandbox_denied(
    wire: WireClient, kind: ServerKind, generation: Generation, request: pytest.FixtureRequest
) -> None:
    """codex-exec-server-0.171.md §2.3: 0.171 says, in ``process/exited`` and
    ``process/read``, whether a sandbox denial failed the process."""
    if generation is V0_130:
        pytest.skip("sandboxDenied is a 0.171 field")
    with trio.fail_after(WAIT):
        events = await run_to_close(wire, generation, "p", ["true"])
        response = await wire.request("process/read", {"processId": "p"})
    (exited,) = [e for e in events if e["method"] == "process/exited"]
    assert exited["params"]["sandboxDenied"] is False
    assert response["result"]["sandboxDenied"] is False
