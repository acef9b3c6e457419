"""ProcessEventStream: ordering, catch-up by reads, gaps — with a scripted reader."""

from __future__ import annotations

import trio

from execsrv.client.errors import Disconnected
from execsrv.client.events import (
    CATCH_UP_BYTES,
    Closed,
    Exited,
    Gap,
    Output,
    ProcessEventStream,
)
from execsrv.protocol.process import ProcessOutputChunk, ReadResponse


def response(chunks: list[tuple[int, bytes]], next_seq: int, **state: object) -> ReadResponse:
    return ReadResponse(
        chunks=[ProcessOutputChunk(seq=s, stream="stdout", chunk=d) for s, d in chunks],
        next_seq=next_seq,
        exited=bool(state.get("exited", False)),
        exit_code=state.get("exit_code"),  # type: ignore[arg-type]
        closed=bool(state.get("closed", False)),
        truncated=bool(state.get("truncated", False)),
        exit_seq=state.get("exit_seq"),  # type: ignore[arg-type]
        closed_seq=state.get("closed_seq"),  # type: ignore[arg-type]
    )


async def test_out_of_order_notifications_come_out_in_seq_order() -> None:
    async def never(after: int, max_bytes: int) -> ReadResponse:
        raise AssertionError("no read expected")

    stream = ProcessEventStream(never)
    stream.feed(3, Closed(3))
    stream.feed(2, Exited(2, 0))
    stream.feed(1, Output(1, "stdout", b"x"))
    stream.feed(1, Output(1, "stdout", b"x"))  # a duplicate is dropped
    assert [e async for e in stream] == [Output(1, "stdout", b"x"), Exited(2, 0), Closed(3)]


async def test_a_cancelled_catch_up_is_retried_not_stalled() -> None:
    calls: list[int] = []
    first_read_started = trio.Event()

    async def read_after(after: int, max_bytes: int) -> ReadResponse:
        calls.append(after)
        if len(calls) == 1:
            first_read_started.set()
            await trio.sleep_forever()
        if after == 0:
            return response(
                [(2, b"b")],
                3,
                exited=True,
                exit_code=0,
                exit_seq=3,
                closed=True,
                closed_seq=4,
                truncated=True,
            )
        return response([], 5, exited=True, exit_code=0, exit_seq=3, closed=True, closed_seq=4)

    stream = ProcessEventStream(read_after)
    stream.fall_behind()
    with trio.fail_after(5):
        with trio.move_on_after(10) as cancelled_read:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(anext, stream)
                await first_read_started.wait()
                cancelled_read.cancel()
        events = [e async for e in stream]
    assert events == [Gap(1, 1), Output(2, "stdout", b"b"), Exited(3, 0), Closed(4)]
    assert calls == [0, 0]


async def test_catch_up_reads_shrink_while_connections_drop_during_them() -> None:
    """A connection that drops before a full read's reply arrives must not livelock
    the stream: each failed read halves the next, each success doubles it back."""
    fits = 256 << 10
    sizes: list[int] = []

    async def read_after(after: int, max_bytes: int) -> ReadResponse:
        sizes.append(max_bytes)
        if max_bytes > fits:
            stream.recover()  # the client resumed on a new connection
            raise Disconnected("connection reset")
        if after == 0:
            return response([(1, b"x")], 2)
        return response([], 4, exited=True, exit_code=0, exit_seq=2, closed=True, closed_seq=3)

    stream = ProcessEventStream(read_after)
    stream.fall_behind()
    with trio.fail_after(5):
        events = [e async for e in stream]
    assert events == [Output(1, "stdout", b"x"), Exited(2, 0), Closed(3)]
    assert sizes == [CATCH_UP_BYTES >> n for n in range(5)] + [2 * fits, fits]
