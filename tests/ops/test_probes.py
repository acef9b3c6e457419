"""Probes on the websocket port: ``/readyz`` and ``/healthz`` answered as plain HTTP
before any token or Origin check; only ``/`` upgrades (codex 0.171's routes)."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio
import trio.testing

import execsrv

from ..conftest import CHILD_ENV
from ..security.support import TOKEN, running, token_file
from .support import get, request, until_status, upgrade_headers


async def test_probes_answer_without_the_token_and_leak_nothing(tmp_path: Path) -> None:
    async with running(auth_token_file=token_file(tmp_path)) as server:
        assert server.url is not None
        for target in ("/readyz", "/healthz", "/livez", "/readyz?verbose=1"):
            answer = await get(server.url, target)
            assert (answer.status, answer.body) == (200, b""), target
            assert answer.headers[b"connection"] == b"close"
        # A browser's Origin does not matter to a probe: it opens no websocket.
        origin = [("Origin", "https://evil.example")]
        assert (await request(server.url, "/readyz", headers=origin)).status == 200
        head = await request(server.url, "/healthz", method="HEAD")
        assert (head.status, head.body) == (200, b"")
        # The websocket path still wants the token; the probes never say it.
        assert (await request(server.url, "/", headers=upgrade_headers())).status == 401
        with pytest.raises(execsrv.AuthenticationFailed):
            async with execsrv.connect(server.url):
                pass
        async with execsrv.connect(server.url, token=TOKEN) as client:
            assert client.session_id


@pytest.mark.parametrize(
    ("target", "upgrade", "method", "status"),
    [
        pytest.param("/?x=1", True, "GET", 101, id="upgrade-root-with-query"),
        pytest.param("/exec", True, "GET", 404, id="upgrade-other-path"),
        pytest.param("/readyz", True, "GET", 200, id="upgrade-to-readyz-does-not-upgrade"),
        pytest.param("/whatever?x=1", False, "GET", 404, id="get-other-path"),
        pytest.param("/", False, "GET", 400, id="get-root-without-upgrade"),
        pytest.param("/readyz", False, "POST", 405, id="post-readyz"),
        pytest.param("http://127.0.0.1/readyz", False, "GET", 200, id="absolute-form"),
    ],
)
async def test_only_the_root_path_upgrades(
    target: str, upgrade: bool, method: str, status: int
) -> None:
    async with running() as server:
        assert server.url is not None
        headers = upgrade_headers() if upgrade else []
        answer = await request(server.url, target, method=method, headers=headers)
        assert answer.status == status, answer
        # Whatever was asked, the server still serves websocket clients.
        async with execsrv.connect(server.url) as client:
            assert client.session_id


async def test_readyz_is_503_at_max_sessions_unless_a_session_can_make_room() -> None:
    async with running(max_sessions=1) as server:
        assert server.url is not None
        assert (await get(server.url, "/readyz")).status == 200
        async with execsrv.connect(server.url):
            answer = await get(server.url, "/readyz")
            assert (answer.status, answer.body) == (503, b"at --max-sessions (1)\n")
            assert (await get(server.url, "/healthz")).status == 200
        # Detached and idle: a new session would reclaim it, so the server is ready.
        await until_status(server.url, "/readyz", 200)
        async with execsrv.connect(server.url) as client:
            await client.start_process(["sleep", "300"], env=CHILD_ENV)
        # Detached with a running process: a new session is refused, and readyz says so.
        assert (await get(server.url, "/readyz")).status == 503
        with pytest.raises(execsrv.RemoteError, match=r"session limit reached \(1\)"):
            async with execsrv.connect(server.url):
                pass


async def test_drain_turns_readyz_503_and_refuses_new_work_at_once() -> None:
    async with running() as server:
        assert server.url is not None
        async with execsrv.connect(server.url) as client, trio.open_nursery() as nursery:
            process = await client.start_process(
                ["sh", "-c", "read line; echo finished $line"], pipe_stdin=True, env=CHILD_ENV
            )
            drained = trio.Event()
            cut: list[int] = []

            async def drain() -> None:
                cut.append(await server.drain(30))
                drained.set()

            nursery.start_soon(drain)
            await trio.testing.wait_all_tasks_blocked()
            assert server.draining
            assert not drained.is_set()
            answer = await get(server.url, "/readyz")
            assert (answer.status, answer.body) == (503, b"draining\n")
            assert (await get(server.url, "/healthz")).status == 200
            with pytest.raises(execsrv.RemoteError) as refused:
                async with execsrv.connect(server.url):
                    pass
            assert refused.value.code == -32600
            assert refused.value.message == "server is draining: new sessions are refused"
            with pytest.raises(execsrv.RemoteError) as refused:
                await client.start_process(["true"], env=CHILD_ENV)
            assert refused.value.code == -32600
            assert refused.value.message == "server is draining: new processes are refused"
            assert not drained.is_set()
            await process.write(b"now\n")
            result = await process.communicate()
            assert (result.exit_code, bytes(result.stdout)) == (0, b"finished now\n")
            with trio.fail_after(10):
                await drained.wait()
        assert cut == [0]
        assert server.shutting_down
        with pytest.raises(OSError, match="all attempts to connect"):
            await get(server.url, "/readyz")  # the listener closed after the drain
