"""The session and resume timing rules, exactly: the server's Connection and the real
Client over the memory transport, on the autojump clock.

Children here are real; nothing in these tests sets a deadline of its own while one
runs (the clock would jump to it while the child works).
"""

from __future__ import annotations

import itertools
import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import replace
from functools import partial

import pytest
import trio
import trio.testing

from execsrv.client import Disconnected, Output, RemoteError
from execsrv.client.supervisor import (
    CONNECT_SECONDS,
    FIRST_RETRY_SECONDS,
    MAX_RETRY_SECONDS,
    RESUME_WITHIN_SECONDS,
)
from execsrv.process.stdin import STDIN_BUFFER_BYTES
from execsrv.protocol.generation import Generation
from execsrv.server.connection import EVICTION_GRACE, RESUMED_ELSEWHERE
from execsrv.transport import MemoryTransport, MessageTransport, memory_transport_pair

from ..conftest import CHILD_ENV, TEST_CONFIG
from ..memory_pair import open_memory_client, open_memory_server
from ..process.support import wait_dead

TTL = 60.0
EPSILON = 0.001


async def test_a_takeover_fails_long_polls_at_once_and_gives_requests_the_eviction_grace(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_memory_server() as server, open_memory_client(server) as old:
        # A child that never reads: a write past the stdin buffer waits for room.
        proc = await old.start_process(
            ["sleep", "300"], process_id="p", env=CHILD_ENV, pipe_stdin=True
        )
        ended: dict[str, tuple[float, BaseException]] = {}

        async def record(name: str, call: Callable[[], Awaitable[object]]) -> None:
            try:
                await call()
            except (RemoteError, Disconnected) as error:
                ended[name] = (trio.current_time(), error)

        async with trio.open_nursery() as nursery:
            long_poll = partial(proc.read, after_seq=0, wait_ms=600_000)
            nursery.start_soon(record, "read", long_poll)
            past_the_buffer = b"x" * 2 * STDIN_BUFFER_BYTES
            nursery.start_soon(record, "write", partial(proc.write, past_the_buffer))
            await trio.testing.wait_all_tasks_blocked()
            taken_over_at = trio.current_time()
            async with open_memory_client(server, resume_session_id=old.session_id) as new:
                assert new.session_id == old.session_id
                await trio.sleep(EVICTION_GRACE * 10)  # the old requests end meanwhile
                [info] = await new.list_processes()
                assert info.running

        read_at, read_error = ended["read"]
        assert read_at == taken_over_at
        assert isinstance(read_error, RemoteError)
        assert (read_error.code, read_error.message) == (-32600, RESUMED_ELSEWHERE)
        write_at, write_error = ended["write"]
        assert write_at - taken_over_at == pytest.approx(EVICTION_GRACE, abs=1e-9)
        assert isinstance(write_error, Disconnected)  # cut off unanswered at the grace
        assert write_error.reason == RESUMED_ELSEWHERE  # the 1008 close reason
        first = server.connections[0]
        assert (first.evicted, first.close_reason) == (True, RESUMED_ELSEWHERE)


async def test_a_detached_session_lives_exactly_its_ttl(
    autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="execsrv.session")
    config = replace(TEST_CONFIG, session_ttl=TTL)
    async with open_memory_server(config) as server:
        async with open_memory_client(server) as client:
            session_id = client.session_id
            process = await client.start_process(
                ["sh", "-c", "echo $$; exec sleep 300"], env=CHILD_ENV
            )
            async for event in process.events:
                assert isinstance(event, Output)
                pidfd = os.pidfd_open(int(event.data))
                break
        session = server.registry.lookup(session_id)
        assert session is not None
        try:
            await session.wait_detached()
            left_at = trio.current_time()
            await trio.sleep_until(left_at + TTL - EPSILON)
            async with open_memory_client(server, resume_session_id=session_id) as client:
                [info] = await client.list_processes()  # just in time: nothing was lost
                assert info.running
            await session.wait_detached()
            left_again_at = trio.current_time()
            await trio.sleep_until(left_again_at + TTL)
            with pytest.raises(RemoteError) as unknown:
                async with open_memory_client(server, resume_session_id=session_id):
                    pass
            assert (unknown.value.code, unknown.value.message) == (
                -32600,
                f"unknown session id {session_id}",
            )
            await wait_dead(pidfd)
            await session.ended.wait()
        finally:
            os.close(pidfd)
    [expired] = [r for r in caplog.records if r.getMessage() == "session expired"]
    assert expired.session == session_id[:8]  # type: ignore[attr-defined]


async def test_a_resume_attempt_waits_connect_seconds_for_an_initialize_answer(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_memory_server() as server:
        dials: list[float] = []
        silent: list[MemoryTransport] = []

        async def dial() -> MessageTransport:
            dials.append(trio.current_time())
            if len(dials) > 1:
                return await server.connect()
            ours, theirs = memory_transport_pair(server.config.max_message_bytes)
            silent.append(theirs)  # open, read by nobody, never answers
            return ours

        async with open_memory_client(server, dial=dial) as client:
            session_id = client.session_id
            await client.start_process(["true"], process_id="t", env=CHILD_ENV)
            assert await server.sever() == 1
            lost_at = trio.current_time()
            with pytest.raises(Disconnected):
                await client.list_processes()
            await client.wait_connected()
            assert dials == [lost_at, lost_at + CONNECT_SECONDS + FIRST_RETRY_SECONDS]
            assert trio.current_time() == dials[-1]
            assert client.resumes == 1
            assert client.session_id == session_id
            assert [info.process_id for info in await client.list_processes()] == ["t"]


async def test_resume_backs_off_exponentially_then_gives_up_after_its_window(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_memory_server() as server:
        dials: list[float] = []

        async def dial() -> MessageTransport:
            dials.append(trio.current_time())
            raise Disconnected("connection refused")

        # As to a 0.130 server, whose sessions the client tries to resume for 30 s (80 s
        # for 0.171's: tests/client/test_generation.py).
        async with open_memory_client(server, dial=dial, speaking_as=Generation.V0_130) as client:
            assert await server.sever() == 1
            lost_at = trio.current_time()
            with pytest.raises(Disconnected):
                await client.list_processes()
            with pytest.raises(Disconnected, match=r"could not resume within 30 s: .*refused"):
                await client.wait_connected()
            assert trio.current_time() - lost_at == pytest.approx(RESUME_WITHIN_SECONDS)
            with pytest.raises(Disconnected):
                await client.list_processes()
    delays = [later - earlier for earlier, later in itertools.pairwise(dials)]
    expected = [min(FIRST_RETRY_SECONDS * 2**n, MAX_RETRY_SECONDS) for n in range(len(delays))]
    assert delays == pytest.approx(expected)
    assert dials[0] == lost_at
    assert dials[-1] + MAX_RETRY_SECONDS > lost_at + RESUME_WITHIN_SECONDS  # no try left out
    assert len(dials) == 1 + 6 + 13  # at once, after 0.05 .. 1.6 s, then every 2 s to 29.15 s
