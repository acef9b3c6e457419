"""What logs may carry: only ``short_id`` of a session id (a bearer secret), and
peer-controlled text only clipped to ``LOGGED_TEXT_CHARS`` (one request must not
flood the log or forge lines in it)."""

from __future__ import annotations

import logging
import signal
import sys
import uuid

import trio

import execsrv
from execsrv.logs import LOGGED_TEXT_CHARS, TRACEBACK_LINE_CHARS, KeyValueFormatter, clip
from execsrv.server.session import short_id

from ..conftest import CHILD_ENV
from ..servers import open_execsrv
from ..wire import WireClosed, open_wire
from .support import upgrade

FORGED = "\n1999-01-01T00:00:00Z WARNING execsrv.server forged line\n"

EXPECTED_EVENTS = (
    "session created",
    "client initialized",
    "session taken over",
    "session detached",
    "session resumed",
    "session expired",
)


async def test_debug_logs_never_show_a_full_session_id() -> None:
    unknown = str(uuid.uuid4())
    async with open_execsrv("--log-level", "debug", "--session-ttl", "0.5") as server:
        with trio.fail_after(30):
            async with open_wire(server.url) as first:
                session_id = await first.handshake()
                reply = await first.request(
                    "process/start",
                    {
                        "processId": "p",
                        "argv": ["echo", "x"],
                        "cwd": "/",
                        "env": CHILD_ENV,
                        "tty": False,
                    },
                )
                assert "result" in reply, reply
                await first.next_notification("process/closed")
                # Take over the attached session from a second connection.
                async with open_wire(server.url) as second:
                    reply = await second.request(
                        "initialize", {"clientName": "second", "resumeSessionId": session_id}
                    )
                    assert reply["result"]["sessionId"] == session_id
                    await second.notify("initialized", {})
                    try:
                        while True:
                            await first.recv()
                    except WireClosed:
                        pass  # evicted
                    reply = await second.request("process/list", {})
                    assert "result" in reply, reply
            # Both gone: detached. Resume it once more, then let it expire.
            async with execsrv.connect(server.url, resume_session_id=session_id) as client:
                assert client.session_id == session_id
            async with open_wire(server.url) as third:
                reply = await third.request(
                    "initialize", {"clientName": "third", "resumeSessionId": unknown}
                )
                assert reply["error"]["code"] == -32600
            while "session expired" not in server.stderr_text():  # noqa: ASYNC110 (another process)
                await trio.sleep(0.05)
            server.process.send_signal(signal.SIGTERM)
            await server.process.wait()
        stderr = server.stderr_text()

    assert " DEBUG " in stderr, stderr  # debug logging was on
    for event in EXPECTED_EVENTS:
        lines = [line for line in stderr.splitlines() if event in line]
        assert lines, f"no `{event}` line:\n{stderr}"
        assert all(f"session={short_id(session_id)}" in line for line in lines), lines
    assert session_id not in stderr
    assert session_id[: len(short_id(session_id)) + 1] not in stderr
    assert unknown not in stderr
    assert unknown[:9] not in stderr


async def test_peer_controlled_text_is_clipped_in_the_log() -> None:
    """A 1 MiB clientName, a 1 MiB method name and a 12 KiB Origin add a few hundred
    characters each to the log, and embedded newlines forge no line."""
    huge = "n" * (1 << 20)
    async with open_execsrv("--log-level", "debug") as server:
        with trio.fail_after(30):
            answer = await upgrade(server.url, [("Origin", "http://" + "o" * 12_000)])
            assert answer.status == 403
            async with open_wire(server.url) as wire:
                reply = await wire.request("initialize", {"clientName": FORGED + huge})
                assert "result" in reply, reply
                await wire.notify("initialized", {})
                await wire.notify(FORGED + huge, {})  # closes the connection: detached
                try:
                    while True:
                        await wire.recv()
                except WireClosed:
                    pass
            while "session detached" not in server.stderr_text():  # noqa: ASYNC110 (another process)
                await trio.sleep(0.05)
        stderr = server.stderr_text()

    lines = stderr.splitlines()
    assert all(not line.startswith("1999") for line in lines), stderr[-2000:]
    (initialized,) = [line for line in lines if "client initialized" in line]
    shown = clip(FORGED + huge)
    assert shown.startswith("\\n1999-01-01T00:00:00Z WARNING execsrv.server forged line\\nnnn")
    assert f"client={shown}" in initialized
    (detached,) = [line for line in lines if "session detached" in line]
    assert "reason=unexpected notification `\\n1999" in detached
    assert f"…[{len('unexpected notification ``') + len(FORGED) + len(huge)} chars]" in detached
    (refused,) = [line for line in lines if "handshake refused" in line]
    assert "origin=http://ooo" in refused
    assert "…[12007 bytes]" in refused
    assert max(len(line) for line in lines) < 3 * LOGGED_TEXT_CHARS, max(lines, key=len)[:300]
    assert len(stderr) < 20_000


def test_clip_bounds_and_escapes() -> None:
    assert clip("short") == "short"
    assert clip("x" * LOGGED_TEXT_CHARS) == "x" * LOGGED_TEXT_CHARS
    assert clip("x" * (LOGGED_TEXT_CHARS + 1)) == f"{'x' * LOGGED_TEXT_CHARS}…[201 chars]"
    assert clip("a\nb\x1b[2J\u2028") == "a\\nb\\x1b[2J\\u2028"
    assert clip(b"\xff" * 10_000) == "\\xff" * 50 + "…[10000 bytes]"
    assert clip("\n" * 150) == "\\n" * 100 + "…[150 chars]"
    assert clip(ValueError("v" * 300)).endswith("…[300 chars]")


def test_tracebacks_quoting_huge_exception_texts_stay_bounded() -> None:
    try:
        raise ValueError("v" * (1 << 20) + "\n" * 100_000)
    except ValueError:
        exc_info = sys.exc_info()
    record = logging.LogRecord("execsrv.t", logging.ERROR, __file__, 1, "boom", None, exc_info)
    text = KeyValueFormatter("%(message)s").format(record)
    assert len(text) < 10 * TRACEBACK_LINE_CHARS, len(text)
    assert max(len(line) for line in text.splitlines()) < TRACEBACK_LINE_CHARS + 20
    assert text.startswith("boom\nTraceback")
