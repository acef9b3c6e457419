"""Per-process lanes (server/lanes.py) as a pure trio unit, on the autojump clock.

A ticket waits for the previous request in its lane to *take effect*, not to
finish; lanes of different processes are independent; reads wait at a barrier
without queueing; and the lane table stays bounded in a long session.
"""

from __future__ import annotations

import pytest
import trio
import trio.testing

from execsrv.server.lanes import Lanes


@pytest.fixture
def autojump_clock() -> trio.testing.MockClock:
    return trio.testing.MockClock(autojump_threshold=0)


async def test_next_request_waits_for_effect_not_completion(
    autojump_clock: trio.testing.MockClock,
) -> None:
    lanes = Lanes()
    log: list[str] = []
    first, second = lanes.take_ticket("p"), lanes.take_ticket("p")

    async def slow_write() -> None:  # e.g. a write whose answer waits for stdin room
        await first.wait_turn()
        await trio.sleep(1)
        log.append("write queued")
        first.release()
        await trio.sleep(100)
        log.append("write answered")

    async def terminate() -> None:
        await second.wait_turn()
        log.append("terminate")
        second.release()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(terminate)  # started first, still goes second
        nursery.start_soon(slow_write)
    assert log == ["write queued", "terminate", "write answered"]


async def test_lanes_of_different_processes_are_independent(
    autojump_clock: trio.testing.MockClock,
) -> None:
    lanes = Lanes()
    stuck = lanes.take_ticket("p")
    other = lanes.take_ticket("q")
    with trio.fail_after(1):
        await other.wait_turn()
    behind = lanes.take_ticket("p")
    with trio.move_on_after(10) as waited:
        await behind.wait_turn()
    assert waited.cancelled_caught
    stuck.release()
    with trio.fail_after(1):
        await behind.wait_turn()


async def test_reads_wait_at_the_barrier_without_queueing() -> None:
    lanes = Lanes()
    assert lanes.barrier("p") is None
    start = lanes.take_ticket("p")
    barrier = lanes.barrier("p")
    assert barrier is not None
    assert not barrier.is_set()
    start.release()
    assert barrier.is_set()
    assert lanes.barrier("p") is None
    # A read took no ticket: the next ordered request does not wait for it.
    with trio.fail_after(1):
        await lanes.take_ticket("p").wait_turn()


async def test_lane_table_stays_bounded_over_many_process_ids(
    autojump_clock: trio.testing.MockClock,
) -> None:
    lanes = Lanes()
    pending = [lanes.take_ticket(f"live-{index}") for index in range(100)]
    for index in range(10_000):
        lanes.take_ticket(f"done-{index}").release()
    assert len(lanes) < 400
    # Lanes with a request in flight are never forgotten: order still holds there.
    behind = lanes.take_ticket("live-7")
    with trio.move_on_after(10) as waited:
        await behind.wait_turn()
    assert waited.cancelled_caught
    pending[7].release()
    with trio.fail_after(1):
        await behind.wait_turn()
