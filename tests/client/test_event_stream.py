"""ProcessEventStream: ordering, catch-up by reads, gaps — with a scripted reader."""

from __future__ import annotations

import trio

from execsrv.client.events import Closed, Exited, Gap, Output, ProcessEventStream
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
