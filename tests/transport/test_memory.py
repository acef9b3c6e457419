"""The memory transport pair keeps the MessageTransport promises a websocket keeps."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial

import pytest
import trio
import trio.testing

from execsrv.protocol.jsonrpc import SplitMessage
from execsrv.transport import MessageTransport, TransportClosed, memory_transport_pair
from execsrv.transport.memory import (
    CLOSED_HERE,
    MEMORY_BUFFER_MESSAGES,
    PEER_ABORTED,
    PEER_CLOSED,
)

LIMIT = 1024


def test_each_end_is_a_message_transport() -> None:
    first, second = memory_transport_pair(LIMIT)
    ends: tuple[MessageTransport, MessageTransport] = (first, second)  # checked by mypy
    assert all(end.description for end in ends)


async def test_messages_arrive_whole_and_in_order_both_ways() -> None:
    first, second = memory_transport_pair(LIMIT)
    split = SplitMessage((b'{"id":1,', memoryview(b'"result":'), b"{}}"))
    await first.send_messages([b"one", split, b"three"])
    await second.send_messages([b"back"])
    assert [await second.receive_message() for _ in range(3)] == [
        b"one",
        b'{"id":1,"result":{}}',
        b"three",
    ]
    assert await first.receive_message() == b"back"


async def test_a_sender_waits_while_the_buffer_is_full() -> None:
    first, second = memory_transport_pair(LIMIT)
    await first.send_messages([b"%d" % n for n in range(MEMORY_BUFFER_MESSAGES)])
    sent = trio.Event()

    async def send_one_more() -> None:
        await first.send_messages([b"more"])
        sent.set()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(send_one_more)
        await trio.testing.wait_all_tasks_blocked()
        assert not sent.is_set()
        assert await second.receive_message() == b"0"
        await sent.wait()
    received = [await second.receive_message() for _ in range(MEMORY_BUFFER_MESSAGES)]
    assert received[-1] == b"more"


@pytest.mark.parametrize("closer", ["first", "second"])
async def test_a_close_reaches_the_peer_after_what_was_sent_before(closer: str) -> None:
    first, second = memory_transport_pair(LIMIT)
    closing, other = (first, second) if closer == "first" else (second, first)
    await closing.send_messages([b"last words"])
    await closing.aclose(reason="policy violation: bye")
    assert await other.receive_message() == b"last words"
    for call in (other.receive_message(), other.send_messages([b"late"])):
        with pytest.raises(TransportClosed) as closed:
            await call
        assert closed.value.reason == "policy violation: bye"
    for call in (closing.receive_message(), closing.send_messages([b"late"])):
        with pytest.raises(TransportClosed) as closed:
            await call
        assert closed.value.reason == CLOSED_HERE


async def test_aclose_is_idempotent_and_the_first_reason_stands() -> None:
    first, second = memory_transport_pair(LIMIT)
    await first.aclose()
    await first.aclose(reason="second thoughts")
    await first.abort()
    await second.aclose()  # the peer closing too never raises either
    with pytest.raises(TransportClosed, match=CLOSED_HERE):
        await second.receive_message()
    third, fourth = memory_transport_pair(LIMIT)
    await third.abort()
    with pytest.raises(TransportClosed, match=PEER_ABORTED):
        await fourth.receive_message()


@pytest.mark.parametrize("closer", ["own", "peer"])
async def test_a_close_wakes_waiting_calls_on_both_ends(closer: str) -> None:
    reasons: dict[str, str] = {}

    async def expect_closed(name: str, call: Callable[[], Awaitable[object]]) -> None:
        with pytest.raises(TransportClosed) as closed:
            await call()
        reasons[name] = closed.value.reason

    first, second = memory_transport_pair(LIMIT)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(expect_closed, "first receives", first.receive_message)
        nursery.start_soon(expect_closed, "second receives", second.receive_message)
        await trio.testing.wait_all_tasks_blocked()
        await (first if closer == "own" else second).aclose()
    here, there = (CLOSED_HERE, PEER_CLOSED) if closer == "own" else (PEER_CLOSED, CLOSED_HERE)
    assert reasons == {"first receives": here, "second receives": there}

    reasons.clear()
    third, fourth = memory_transport_pair(LIMIT)
    await third.send_messages([b"x"] * MEMORY_BUFFER_MESSAGES)  # the next send waits
    async with trio.open_nursery() as nursery:
        nursery.start_soon(expect_closed, "send", partial(third.send_messages, [b"y"]))
        await trio.testing.wait_all_tasks_blocked()
        await (third if closer == "own" else fourth).aclose()
    assert reasons == {"send": CLOSED_HERE if closer == "own" else PEER_CLOSED}


async def test_a_message_over_the_limit_ends_the_connection_on_both_ends() -> None:
    first, second = memory_transport_pair(LIMIT)
    await first.send_messages([b"x" * LIMIT, b"y" * (LIMIT + 1), b"never read"])
    assert await second.receive_message() == b"x" * LIMIT  # the limit itself is fine
    reason = f"message of {LIMIT + 1} bytes is over the limit of {LIMIT} bytes"
    with pytest.raises(TransportClosed, match=reason):
        await second.receive_message()
    with pytest.raises(TransportClosed, match=reason):
        await second.receive_message()
    with pytest.raises(TransportClosed, match=reason):
        await first.send_messages([b"more"])


async def test_a_cancelled_receive_loses_nothing(autojump_clock: trio.testing.MockClock) -> None:
    first, second = memory_transport_pair(LIMIT)
    with trio.move_on_after(1) as waited:
        await second.receive_message()
    assert waited.cancelled_caught
    await first.send_messages([b"kept"])
    assert await second.receive_message() == b"kept"
