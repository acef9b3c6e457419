"""Connection, session and process limits: clear refusals, and room again once freed."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
import trio

import execsrv
from execsrv.cli import build_parser

from ..conftest import CHILD_ENV
from ..servers import open_execsrv
from ..wire import open_wire
from .support import TOKEN, running, token_file, upgrade


def _start(process_id: str, argv: list[str]) -> dict[str, object]:
    return {"processId": process_id, "argv": argv, "cwd": "/", "env": CHILD_ENV, "tty": False}


async def test_max_connections_answers_503_beyond_the_limit() -> None:
    async with open_execsrv("--max-connections", "2") as server:
        async with open_wire(server.url) as first, open_wire(server.url) as second:
            with trio.fail_after(10):
                await first.handshake()
                await second.handshake()
            answer = await upgrade(server.url)
            assert answer.status == 503
            assert answer.body == b"too many connections (limit 2)\n"
            with pytest.raises(execsrv.HandshakeRejected) as caught:
                async with execsrv.connect(server.url):
                    pytest.fail("connected beyond the limit")
            assert caught.value.status == 503
            assert not isinstance(caught.value, execsrv.AuthenticationFailed)
            assert "too many connections (limit 2)" in str(caught.value)
        # Both closed: there is room again (the server notices the closes promptly).
        with trio.fail_after(10):
            while (answer := await upgrade(server.url)).status != 101:  # noqa: ASYNC110 (another process)
                await trio.sleep(0.05)
        stderr = server.stderr_text()
        assert "handshake refused: too many connections (limit 2)" in stderr
        assert "status=503" in stderr


async def test_refused_handshakes_do_not_count_as_connections(tmp_path: Path) -> None:
    async with running(max_connections=1, auth_token_file=token_file(tmp_path)) as server:
        assert server.url is not None
        for _ in range(3):
            assert (await upgrade(server.url)).status == 401
        assert server.connection_count == 0
        async with execsrv.connect(server.url, token=TOKEN):
            assert server.connection_count == 1
            assert (await upgrade(server.url, [("Authorization", f"Bearer {TOKEN}")])).status == 503


async def test_max_sessions_refuses_a_new_session_but_not_a_resume() -> None:
    async with running(max_sessions=2, session_ttl=60.0) as server:
        assert server.url is not None
        with trio.fail_after(20):
            async with open_wire(server.url) as a, open_wire(server.url) as b:
                await a.handshake()
                kept = await b.handshake()
                async with open_wire(server.url) as c:
                    reply = await c.request("initialize", {"clientName": "third"})
                    assert reply["error"] == {
                        "code": -32600,
                        "message": "session limit reached (2)",
                    }
                    # The connection is still usable: a resume is not a new session.
                    reply = await c.request(
                        "initialize", {"clientName": "third", "resumeSessionId": kept}
                    )
                    assert reply["result"]["sessionId"] == kept


async def test_max_sessions_counts_detached_sessions_with_processes_until_they_expire() -> None:
    async with running(max_sessions=1, session_ttl=0.5) as server:
        assert server.url is not None
        with trio.fail_after(20):
            async with open_wire(server.url) as wire:
                await wire.handshake()
                reply = await wire.request("process/start", _start("s", ["sleep", "60"]))
                assert "result" in reply, reply
            # Detached within its TTL with a running process: still counts.
            async with open_wire(server.url) as wire:
                reply = await wire.request("initialize", {"clientName": "t"})
                assert reply["error"]["message"] == "session limit reached (1)"
            await trio.sleep(0.6)
            async with open_wire(server.url) as wire:
                assert await wire.handshake()


async def test_a_cycling_client_cannot_lock_others_out() -> None:
    """Connect/initialize/close cycles leave idle detached sessions; at the limit the
    oldest of them is reclaimed, while one with a running process is kept."""
    async with running(max_sessions=3, session_ttl=60.0) as server:
        assert server.url is not None
        with trio.fail_after(20):
            async with open_wire(server.url) as wire:
                busy = await wire.handshake()
                reply = await wire.request("process/start", _start("s", ["sleep", "60"]))
                assert "result" in reply, reply
            idle: list[str] = []
            for _ in range(10):
                async with open_wire(server.url) as wire:
                    idle.append(await wire.handshake())
            async with open_wire(server.url) as other:
                assert await other.handshake()
                for session_id, alive in ((busy, True), (idle[-1], True), (idle[-2], False)):
                    async with open_wire(server.url) as wire:
                        reply = await wire.request(
                            "initialize", {"clientName": "r", "resumeSessionId": session_id}
                        )
                        assert ("result" in reply) is alive, reply


async def test_max_processes_per_session_counts_running_processes() -> None:
    async with running(max_processes_per_session=2, exited_retention=60.0) as server:
        assert server.url is not None
        with trio.fail_after(20):
            async with open_wire(server.url) as wire, open_wire(server.url) as other:
                await wire.handshake()
                await other.handshake()
                for name in ("a", "b"):
                    reply = await wire.request("process/start", _start(name, ["sleep", "60"]))
                    assert reply["result"] == {"processId": name}
                reply = await wire.request("process/start", _start("c", ["sleep", "60"]))
                assert reply["error"] == {"code": -32600, "message": "process limit reached (2)"}
                # Per session: another session is not affected.
                reply = await other.request("process/start", _start("x", ["true"]))
                assert "result" in reply, reply
                # A closed process no longer counts, though it stays readable.
                await wire.request("process/terminate", {"processId": "a"})
                await wire.next_notification(
                    "process/closed", lambda m: m["params"]["processId"] == "a"
                )
                reply = await wire.request("process/start", _start("c", ["sleep", "60"]))
                assert reply["result"] == {"processId": "c"}
                read = await wire.request("process/read", {"processId": "a", "afterSeq": 0})
                assert "result" in read, read
                reply = await wire.request("process/start", _start("d", ["true"]))
                assert reply["error"]["message"] == "process limit reached (2)"


def test_limit_defaults_are_documented_in_help() -> None:
    parser = build_parser()
    (commands,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    text = " ".join(commands.choices["serve"].format_help().split())
    for flag in ("--max-connections", "--max-sessions", "--max-processes-per-session"):
        assert flag in text
    assert text.count("(default 1024)") >= 3
    config = execsrv.ServerConfig()
    assert (config.max_connections, config.max_sessions, config.max_processes_per_session) == (
        1024,
        1024,
        1024,
    )
