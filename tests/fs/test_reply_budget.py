"""ByteBudget: the server-wide bound on large replies in flight."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from execsrv.server.budget import ByteBudget, base64_size


def test_base64_size() -> None:
    assert [base64_size(n) for n in (0, 1, 2, 3, 4, 6)] == [0, 4, 4, 4, 8, 8]


def test_a_budget_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        ByteBudget(0)


async def test_reservations_wait_in_arrival_order() -> None:
    budget = ByteBudget(10)
    granted: list[str] = []

    async def take(name: str, size: int, release: trio.Event) -> None:
        held = await budget.acquire(size)
        granted.append(name)
        await release.wait()
        budget.release(held)

    releases = {name: trio.Event() for name in "abcd"}
    async with trio.open_nursery() as nursery:
        nursery.start_soon(take, "a", 6, releases["a"])
        await trio.testing.wait_all_tasks_blocked()
        nursery.start_soon(take, "b", 6, releases["b"])
        await trio.testing.wait_all_tasks_blocked()
        nursery.start_soon(take, "c", 1, releases["c"])  # fits, but b came first
        await trio.testing.wait_all_tasks_blocked()
        assert (granted, budget.in_use, budget.waiting) == (["a"], 6, 2)

        releases["a"].set()
        await trio.testing.wait_all_tasks_blocked()
        assert (set(granted), budget.in_use, budget.waiting) == ({"a", "b", "c"}, 7, 0)

        nursery.start_soon(take, "d", 100, releases["d"])  # larger than the budget
        await trio.testing.wait_all_tasks_blocked()
        assert budget.waiting == 1
        releases["b"].set()
        releases["c"].set()
        await trio.testing.wait_all_tasks_blocked()
        assert (granted[-1], budget.in_use) == ("d", 10)  # alone, clamped to the whole
        releases["d"].set()
    assert budget.in_use == 0


async def test_a_cancelled_wait_holds_nothing_and_lets_the_next_one_in() -> None:
    budget = ByteBudget(10)
    held = await budget.acquire(8)
    waiting = trio.CancelScope()
    got: list[int] = []

    async def wait_big() -> None:
        with waiting:
            await budget.acquire(5)

    async def wait_small() -> None:
        got.append(await budget.acquire(2))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(wait_big)
        await trio.testing.wait_all_tasks_blocked()
        nursery.start_soon(wait_small)  # behind the big one, though it fits
        await trio.testing.wait_all_tasks_blocked()
        assert (budget.waiting, got) == (2, [])
        waiting.cancel()
        await trio.testing.wait_all_tasks_blocked()
        assert (budget.waiting, got, budget.in_use) == (0, [2], 10)
    budget.release(held)
    budget.release(2)
    assert budget.in_use == 0


async def test_release_after_a_reply_or_when_its_connection_ends() -> None:
    budget = ByteBudget(10)
    replied = trio.Event()
    async with trio.open_nursery() as nursery:
        budget.release_after(await budget.acquire(4), replied, nursery)
        await trio.testing.wait_all_tasks_blocked()
        assert budget.in_use == 4
        replied.set()
    assert budget.in_use == 0
    async with trio.open_nursery() as nursery:
        budget.release_after(await budget.acquire(4), trio.Event(), nursery)
        await trio.testing.wait_all_tasks_blocked()
        nursery.cancel_scope.cancel()
    assert budget.in_use == 0
