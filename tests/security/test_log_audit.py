"""Session ids are bearer secrets: at any log level, logs carry only ``short_id``."""

from __future__ import annotations

import signal
import uuid

import trio

import execsrv
from execsrv.server.session import short_id

from ..conftest import CHILD_ENV
from ..servers import open_execsrv
from ..wire import WireClosed, open_wire

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
                    assert reply["result"] == {"sessionId": session_id}
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
