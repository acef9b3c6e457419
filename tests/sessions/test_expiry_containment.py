"""Session expiry kills what the session's children started, even outside their
process groups (ISSUE 8, point 3)."""

from __future__ import annotations

import base64
import os

import trio

from ..conftest import CHILD_ENV
from ..process.support import is_dead, wait_dead
from ..process.test_containment import ESCAPES
from ..servers import open_execsrv
from ..wire import open_wire


async def test_ttl_expiry_kills_descendants_that_left_the_session() -> None:
    async with open_execsrv("--session-ttl", "0.3", "--kill-grace", "0.2") as server:
        with trio.fail_after(10):
            async with open_wire(server.url) as wire:
                await wire.handshake()
                output = {"pipe": b"", "pty": b""}
                for process_id in output:
                    await wire.request(
                        "process/start",
                        {
                            "processId": process_id,
                            "argv": ["sh", "-c", ESCAPES],
                            "cwd": "/",
                            "env": CHILD_ENV,
                            "tty": process_id == "pty",
                        },
                    )
                while not all(b"started" in text for text in output.values()):
                    params = (await wire.next_notification("process/output"))["params"]
                    output[params["processId"]] += base64.b64decode(params["chunk"])
            # Disconnected: the TTL passes and the session ends with all it started.
            grandchildren = [int(text.split()[0]) for text in output.values()]
            pidfds = [os.pidfd_open(pid) for pid in grandchildren]
            try:
                assert all(os.getsid(pid) == pid for pid in grandchildren)
                for pidfd in pidfds:
                    await wait_dead(pidfd)
            finally:
                for pidfd in pidfds:
                    os.close(pidfd)


# Exits at once, leaving a daemon in a session of its own behind.
LEAVES_DAEMON = "setsid sh -c 'echo $$ started; exec sleep 1000 >/dev/null 2>&1' </dev/null &"


async def test_a_daemon_outlives_its_process_record_but_not_its_session() -> None:
    async with open_execsrv(
        "--session-ttl", "0.3", "--exited-retention", "0", "--kill-grace", "0.2"
    ) as server:
        with trio.fail_after(10):
            async with open_wire(server.url) as wire:
                await wire.handshake()
                start = {"processId": "d", "argv": ["sh", "-c", LEAVES_DAEMON], "cwd": "/"}
                await wire.request("process/start", {**start, "env": CHILD_ENV, "tty": False})
                output = b""
                while b"started" not in output:
                    params = (await wire.next_notification("process/output"))["params"]
                    output += base64.b64decode(params["chunk"])
                daemon = int(output.split()[0])
                pidfd = os.pidfd_open(daemon)
                try:
                    await wire.next_notification("process/closed")
                    listed: object = ["d"]
                    while listed:  # the record is forgotten right after `closed`
                        reply = await wire.request("process/list", {})
                        listed = reply["result"]["processes"]
                    assert not is_dead(daemon)
                except BaseException:
                    os.close(pidfd)
                    raise
            # Disconnected: the session expires and takes the daemon with it.
            try:
                await wait_dead(pidfd)
            finally:
                os.close(pidfd)
