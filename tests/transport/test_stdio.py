"""``--listen stdio``: newline-delimited JSON on stdin/stdout (spec §1.3, §1.6)."""

from __future__ import annotations

import base64

import trio

from ..conftest import CHILD_ENV
from .stdio import StdioServer, open_stdio_server

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


async def _assert_still_serving(server: StdioServer, request_id: int) -> None:
    reply = await server.request(request_id, "process/list", {})
    assert reply == {"id": request_id, "result": {"processes": []}}


async def test_numbers_beyond_f64_get_a_parse_error_and_the_server_goes_on() -> None:
    """The reference's parse error (id -1), where the server once died with a traceback."""
    with trio.fail_after(20):
        async with open_stdio_server() as server:
            await server.handshake()
            for index, number in enumerate([b"1e400", b"1" + b"0" * 400, b"9" * 5_000_000]):
                await server.send_raw(
                    b'{"id":1,"method":"process/read","params":{"processId":"p","waitMs":'
                    + number
                    + b"}}\n"
                )
                assert await server.recv() == {
                    "error": {"code": -32600, "message": STDIO_PREFIX + "number out of range"},
                    "id": -1,
                }
                await _assert_still_serving(server, 10 + index)
            assert "Traceback" not in server.stderr_text()


async def test_a_repeated_member_is_a_parse_error_over_stdio() -> None:
    with trio.fail_after(20):
        async with open_stdio_server() as server:
            await server.handshake()
            await server.send_raw(b'{"id":1,"method":"process/list","params":{},"params":{}}\n')
            reply = await server.recv()
            assert reply["id"] == -1
            assert reply["error"]["message"] == STDIO_PREFIX + (
                "data did not match any variant of untagged enum JSONRPCMessage"
            )
            await _assert_still_serving(server, 2)


TOO_LARGE = {
    "error": {"code": -32600, "message": STDIO_PREFIX + "message exceeds the limit of 1000 bytes"},
    "id": -1,
}


async def test_over_long_line_gets_a_parse_error_and_the_server_goes_on() -> None:
    """The rest of the line is dropped; the next line is read as usual."""
    with trio.fail_after(20):
        async with open_stdio_server("--max-message-bytes", "1000") as server:
            await server.handshake()
            await server.send_raw(b'{"id":1,"method":"' + b"x" * 2000 + b'"}\n')
            assert await server.recv() == TOO_LARGE
            await _assert_still_serving(server, 2)
            # Answered as soon as the limit is passed, before the line ends.
            await server.send_raw(b'{"id":3,"method":"' + b"x" * 2000)
            assert await server.recv() == TOO_LARGE
            await server.send_raw(b"y" * 100_000)
            await server.send_raw(b'"}\n{"id":4,"method":"process/list"}\n')
            assert await server.response(4) == {"id": 4, "result": {"processes": []}}
            await server.close_stdin()
            assert await server.process.wait() == 0
            assert "Traceback" not in server.stderr_text()


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


async def test_messages_around_an_over_long_line_are_answered_in_order() -> None:
    with trio.fail_after(20):
        async with open_stdio_server("--max-message-bytes", "1000") as server:
            await server.send_raw(
                b'{"id":1,"method":"initialize","params":{"clientName":"x"}}\n'
                + b'{"id":2,"method":"'
                + b"x" * 2000
                + b'"}\n{"id":3,"method":"no/such"}\n'
            )
            assert "sessionId" in (await server.response(1))["result"]
            assert await server.recv() == TOO_LARGE
            assert (await server.response(3))["error"]["code"] == -32601
