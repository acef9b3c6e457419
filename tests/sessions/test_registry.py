"""Session TTL as a cancel-scope deadline, tested on the autojump clock."""

from __future__ import annotations

import trio
import trio.testing

from execsrv.protocol.wire import Payload
from execsrv.server.session import SessionRegistry

TTL = 30.0


class Peer:
    async def send_notification(self, method: str, params: Payload) -> None:
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
