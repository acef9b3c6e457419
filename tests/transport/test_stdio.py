"""``--listen stdio``: newline-delimited JSON on stdin/stdout (spec §1.3, §1.6)."""

from __future__ import annotations

import base64

import trio

from ..conftest import CHILD_ENV
from .stdio import open_stdio_server

STDIO_PREFIX = "failed to parse JSON-RPC message from exec-server stdio: "


def _start(process_id: str, argv: list[str]) -> dict:
    return {"processId": process_id, "argv": argv, "cwd": "/", "env": CHILD_ENV, "tty": False}


async def test_handshake_and_process_over_stdio() -> None:
    with trio.fail_after(20):
        async with open_stdio_server() as server:
            session_id = await server.handshake()
            assert len(session_id) == 36
            started = await server.request(
                1, "process/start", _start("p", ["sh", "-c", "printf hello; exit 7"])
            )
            assert started == {"id": 1, "result": {"processId": "p"}}
            output = await server.notification("process/output")
            assert output["params"]["processId"] == "p"
            assert base64.b64decode(output["params"]["chunk"]) == b"hello"
            exited = await server.notification("process/exited")
            assert exited["params"]["exitCode"] == 7
            await server.notification("process/closed")
            read = await server.request(2, "process/read", {"processId": "p"})
            assert read["result"]["exited"] is True
            assert read["result"]["closed"] is True
            # Every line on stdout is compact JSON: no spaces, no "jsonrpc" member.
            for line in server.raw_lines:
                assert b": " not in line
                assert b'"jsonrpc"' not in line
            await server.close_stdin()
            assert await server.process.wait() == 0


async def test_blank_lines_are_skipped_and_crlf_is_tolerated() -> None:
    with trio.fail_after(20):
        async with open_stdio_server() as server:
            await server.send_raw(
                b'\n  \n\t\r\n{"id":1,"method":"initialize","params":{"clientName":"x"}}\r\n\n'
            )
            reply = await server.response(1)
            assert "sessionId" in reply["result"]
            await server.send_raw(b'\r\n{"method":"initialized"}\r\n   \n')
            await server.send_raw(b'{"id":"two","method":"process/list","params":{}}\r\n')
            assert await server.response("two") == {"id": "two", "result": {"processes": []}}
            # A message split across writes is still one line.
            await server.send_raw(b'{"id":3,"method":')
            await server.send_raw(b'"process/list"}\n')
            assert await server.response(3) == {"id": 3, "result": {"processes": []}}


async def test_two_objects_on_one_line_is_a_parse_error_and_the_server_goes_on() -> None:
    with trio.fail_after(20):
        async with open_stdio_server() as server:
            await server.send_raw(
                b'{"id":1,"method":"process/list"} {"id":2,"method":"process/list"}\n'
            )
            reply = await server.recv()
            assert reply["id"] == -1
            assert reply["error"]["code"] == -32600
            assert reply["error"]["message"].startswith(STDIO_PREFIX)
            # A JSON value split across lines fails too: two parse errors.
            await server.send_raw(b'{"id":5,\n"method":"process/list"}\n')
            for _ in range(2):
                reply = await server.recv()
                assert reply["id"] == -1
                assert reply["error"]["message"].startswith(STDIO_PREFIX)
            await server.send_raw(b"not json\n")
            reply = await server.recv()
            assert reply["error"]["message"].startswith(STDIO_PREFIX)
            await server.handshake()
            listed = await server.request(9, "process/list", {})
            assert listed["result"] == {"processes": []}


async def test_invalid_utf8_line_is_a_parse_error() -> None:
    with trio.fail_after(20):
        async with open_stdio_server() as server:
            await server.send_raw(
                b'{"id":1,"method":"initialize","params":{"clientName":"\xff"}}\n'
            )
            reply = await server.recv()
            assert reply["id"] == -1
            assert reply["error"]["message"].startswith(STDIO_PREFIX)
            await server.handshake()


async def test_stdin_eof_kills_running_child_and_exits_zero() -> None:
    with trio.fail_after(20):
        async with open_stdio_server() as server:
            await server.handshake()
            started = await server.request(
                1, "process/start", _start("sleeper", ["sh", "-c", "echo $$; exec sleep 300"])
            )
            assert "result" in started
            output = await server.notification("process/output")
            pid = int(base64.b64decode(output["params"]["chunk"]))
            child = trio.Path(f"/proc/{pid}")
            assert await child.exists()
            started_at = trio.current_time()
            await server.close_stdin()
            assert await server.process.wait() == 0
            # Killed at once, as the reference does: no TERM-then-grace (2 s default).
            assert trio.current_time() - started_at < 1.5
            # Reaped, not merely signalled: no /proc entry, not even a zombie.
            assert not await child.exists()
            assert "Traceback" not in server.stderr_text()


async def test_stdin_eof_right_away_exits_zero() -> None:
    with trio.fail_after(20):
        async with open_stdio_server() as server:
            await server.close_stdin()
            assert await server.process.wait() == 0
            assert server.process.stdout is not None
            assert await server.process.stdout.receive_some() == b""


async def test_unexpected_notification_ends_the_stdio_server() -> None:
    """Over stdio the one connection is the whole server: a closing rule ends it."""
    with trio.fail_after(20):
        async with open_stdio_server() as server:
            await server.send({"method": "foo/bar"})
            assert await server.process.wait() == 0


async def test_over_long_line_ends_the_stdio_server_with_a_clear_log() -> None:
    with trio.fail_after(20):
        async with open_stdio_server("--max-message-bytes", "1000") as server:
            await server.handshake()
            await server.send_raw(b'{"id":1,"method":"' + b"x" * 2000)  # no newline yet
            assert await server.process.wait() == 0
            stderr = server.stderr_text()
            assert "exceeds 1000" in stderr, stderr
            assert "Traceback" not in stderr


async def test_requests_sent_just_before_eof_are_answered() -> None:
    """The reference answers everything it read before EOF (it serves in order)."""
    with trio.fail_after(20):
        async with open_stdio_server() as server:
            await server.handshake()
            await server.send_raw(
                b'{"id":1,"method":"process/start","params":{"processId":"p","argv":["true"],'
                b'"cwd":"/","env":{"PATH":"/usr/bin:/bin"},"tty":false}}\n'
                b'{"id":2,"method":"process/list","params":{}}\n'
            )
            await server.close_stdin()
            replies: dict[int, dict] = {}
            while len(replies) < 2:  # requests run concurrently: any order
                message = await server.recv()
                if "id" in message:
                    replies[message["id"]] = message
            assert replies[1]["result"] == {"processId": "p"}
            assert "processes" in replies[2]["result"]
            assert await server.process.wait() == 0


async def test_messages_before_an_over_long_line_are_answered() -> None:
    with trio.fail_after(20):
        async with open_stdio_server("--max-message-bytes", "1000") as server:
            await server.send_raw(
                b'{"id":1,"method":"initialize","params":{"clientName":"x"}}\n'
                + b'{"id":2,"method":"'
                + b"x" * 2000
                + b'"}\n'
            )
            assert "sessionId" in (await server.response(1))["result"]
            assert await server.process.wait() == 0
