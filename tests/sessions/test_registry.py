"""Session TTL as a cancel-scope deadline, tested on the autojump clock."""

from __future__ import annotations

from typing import Any

import pytest
import trio
import trio.testing

from execsrv.protocol.errors import RpcError
from execsrv.protocol.methods import NotificationMethod
from execsrv.protocol.wire import Payload
from execsrv.server.session import STARTING, SessionRegistry

TTL = 30.0


class Peer:
    async def notify(self, method: NotificationMethod[Any], params: Payload) -> None:
        raise AssertionError("no notifications expected")


async def test_detached_session_lives_until_ttl_then_ends(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with trio.open_nursery() as holding:
        registry = SessionRegistry(holding, ttl=TTL)
        session = await registry.create()
        peer = Peer()
        session.attach(peer)
        await trio.sleep(3600)  # attached: no deadline
        assert registry.lookup(session.id) is session
        assert session.detach(peer)
        await trio.sleep(TTL - 0.001)
        assert registry.lookup(session.id) is session
        session.attach(peer)  # resumed just in time
        await trio.sleep(3600)
        assert not session.ended.is_set()
        session.detach(peer)
        detached_at = trio.current_time()
        with trio.fail_after(TTL + 1):
            await session.ended.wait()
        assert trio.current_time() - detached_at == TTL
        assert registry.lookup(session.id) is None
        assert len(registry) == 0
        holding.cancel_scope.cancel()


async def test_resume_at_deadline_fails_even_before_teardown(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with trio.open_nursery() as holding:
        registry = SessionRegistry(holding, ttl=TTL)
        session = await registry.create()
        peer = Peer()
        session.attach(peer)
        session.detach(peer)
        autojump_clock.jump(TTL)  # the deadline passes with no checkpoint in between
        assert registry.lookup(session.id) is None
        await session.ended.wait()
        holding.cancel_scope.cancel()


async def test_stale_detach_does_not_start_ttl(autojump_clock: trio.testing.MockClock) -> None:
    async with trio.open_nursery() as holding:
        registry = SessionRegistry(holding, ttl=TTL)
        session = await registry.create()
        old, new = Peer(), Peer()
        session.attach(old)
        session.attach(new)  # takeover
        assert not session.detach(old)
        await trio.sleep(TTL * 10)
        assert registry.lookup(session.id) is session
        holding.cancel_scope.cancel()


async def test_at_the_limit_the_longest_detached_idle_session_makes_room(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with trio.open_nursery() as holding:
        registry = SessionRegistry(holding, ttl=TTL, max_sessions=4)
        sessions = [await registry.create() for _ in range(4)]
        attached, busy, newer, older = sessions
        peers = [Peer() for _ in sessions]
        for session, peer in zip(sessions, peers, strict=True):
            session.attach(peer)
        busy.processes["p"] = STARTING  # a process holds it
        for session, peer in zip((busy, older, newer), (peers[1], peers[3], peers[2]), strict=True):
            session.detach(peer)
            await trio.sleep(1)
        # Full: each new session ends the longest-detached session without a process.
        fresh = await registry.create()
        assert registry.lookup(older.id) is None
        assert registry.lookup(newer.id) is newer
        fresh.attach(Peer())
        await registry.create()
        assert registry.lookup(newer.id) is None
        await older.ended.wait()
        await newer.ended.wait()
        # Only attached sessions and one with a process are left: refused.
        with pytest.raises(RpcError, match=r"session limit reached \(4\)"):
            await registry.create()
        assert registry.lookup(busy.id) is busy
        assert registry.lookup(attached.id) is attached
        holding.cancel_scope.cancel()


async def test_a_session_being_created_is_not_reclaimed(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with trio.open_nursery() as holding:
        registry = SessionRegistry(holding, ttl=TTL, max_sessions=1)
        created = await registry.create()  # not attached yet: not detached either
        with pytest.raises(RpcError, match="session limit reached"):
            await registry.create()
        assert registry.lookup(created.id) is created
        holding.cancel_scope.cancel()


async def test_wait_detached_returns_when_the_connection_leaves(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with trio.open_nursery() as holding:
        registry = SessionRegistry(holding, ttl=TTL)
        session = await registry.create()
        assert not session.detached  # new, not attached yet: not detached either
        peer = Peer()
        session.attach(peer)
        detached_at: list[float] = []

        async def wait() -> None:
            await session.wait_detached()
            detached_at.append(trio.current_time())

        async with trio.open_nursery() as waiters:
            waiters.start_soon(wait)
            waiters.start_soon(wait)
            await trio.sleep(5)
            assert not detached_at
            assert session.detach(peer)
            left_at = trio.current_time()
        assert detached_at == [left_at, left_at]
        await session.wait_detached()  # already detached: at once
        assert trio.current_time() == left_at
        session.attach(peer)
        assert not session.detached
        holding.cancel_scope.cancel()
