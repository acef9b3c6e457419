"""Regression tests, end to end, for bad input that once hurt the server.

Each was found by the fuzzers; each must get the reference's answer (or its
documented close) and leave the server serving.
"""

from __future__ import annotations

import logging

import pytest
import trio

import execsrv

from ..wire import open_wire

PARSE_ERROR_PREFIX = (
    "failed to parse websocket JSON-RPC message from exec-server websocket 127.0.0.1:"
)


async def _still_serving(url: str) -> None:
    async with open_wire(url) as fresh:
        await fresh.handshake()
        assert (await fresh.request("process/list", {}))["result"] == {"processes": []}


@pytest.mark.parametrize(
    "frame",
    [
        b'{"id":1,"method":"initialize","params":{"clientName":"\xff"}}',  # in kept-raw params
        b'{"id":1,"method":"process/list","params":{"x":"\xed\xa0\x80"}}',  # encoded surrogate
        b"[" * 5000 + b"]" * 5000,  # deeper than the interpreter's stack
        b'{"id":1,"method":"process/list","params":' + b"[" * 5000 + b"]" * 5000 + b"}",
    ],
)
async def test_bad_binary_frames_get_a_parse_error(
    server: execsrv.ExecServer, frame: bytes
) -> None:
    assert server.url is not None
    with trio.fail_after(10):
        async with open_wire(server.url) as wire:
            await wire.send_binary(frame)
            reply = await wire.recv()
            assert reply["id"] == -1
            assert reply["error"]["code"] == -32600
            assert reply["error"]["message"].startswith(PARSE_ERROR_PREFIX)
            await wire.handshake()  # the connection stays open
        await _still_serving(server.url)


NUMBERS_BEYOND_F64 = [
    b"1e400",
    b"-1e400",
    b"1" + b"0" * 400,  # msgspec reads it as an int; serde_json's f64 overflows
    b"9" * 5_000_000,  # beyond Python's int digit limit too
]


@pytest.mark.parametrize("number", NUMBERS_BEYOND_F64, ids=["1e400", "-1e400", "1e400-int", "5M"])
@pytest.mark.parametrize(
    "template",
    [
        b'{"id":7,"method":"process/read","params":{"processId":"p","waitMs":N}}',
        b'{"id":7,"method":"process/read","params":{"processId":N}}',  # where a string goes
        b'{"id":7,"method":"process/read","params":{"waitMs":N}}',  # beside a missing field
        b'{"id":N,"method":"process/read","params":{"processId":"p"}}',
    ],
    ids=["u64-field", "string-field", "missing-field", "id"],
)
async def test_numbers_beyond_f64_get_a_parse_error_and_the_connection_stays(
    server: execsrv.ExecServer, template: bytes, number: bytes
) -> None:
    """serde_json cannot read such a number: the reference's parse error, id ``-1``."""
    assert server.url is not None
    with trio.fail_after(10):
        async with open_wire(server.url) as wire:
            await wire.handshake()
            await wire.send_binary(template.replace(b"N", number))
            reply = await wire.recv()
            local = wire.websocket.local
            prefix = f"{PARSE_ERROR_PREFIX}{local.port}: "
            assert reply == {
                "error": {"code": -32600, "message": prefix + "number out of range"},
                "id": -1,
            }
            assert (await wire.request("process/list", {}))["result"] == {"processes": []}
        await _still_serving(server.url)


async def test_repeated_envelope_members_are_refused_as_the_reference_does(
    server: execsrv.ExecServer,
) -> None:
    """Not the last value wins: a repeated member fails the shape that declares it."""
    assert server.url is not None
    with trio.fail_after(10):
        async with open_wire(server.url) as wire:
            await wire.handshake()
            await wire.send('{"id":1,"method":"process/list","method":"process/read"}')
            reply = await wire.recv()
            assert reply["id"] == -1
            assert reply["error"]["message"].endswith(
                ": data did not match any variant of untagged enum JSONRPCMessage"
            )
            assert (await wire.request("process/list", {}))["result"] == {"processes": []}
            # A repeated id leaves a notification, and process/list is not one.
            await wire.send('{"id":1,"id":2,"method":"process/list"}')
            code, _reason = await wire.wait_closed()
            assert code == 1008
            assert wire.responses == {}
        await _still_serving(server.url)


@pytest.mark.parametrize("field", ["timeoutMs", "waitMs"])
async def test_huge_durations_do_not_kill_the_server(
    server: execsrv.ExecServer, field: str
) -> None:
    """u64::MAX ms once overflowed float maths in a process supervisor."""
    assert server.url is not None
    huge = str(2**64 - 1)
    with trio.fail_after(10):
        async with open_wire(server.url) as wire:
            await wire.handshake()
            extra = f',"timeoutMs":{huge}' if field == "timeoutMs" else ""
            await wire.send(
                '{"id":1,"method":"process/start","params":{"processId":"p","argv":["true"],'
                f'"cwd":"/","env":{{}},"tty":false{extra}}}}}'
            )
            assert (await wire.response(1))["result"] == {"processId": "p"}
            # Long-poll until the exit either way (a read returns at once on exit).
            wait = f',"waitMs":{huge if field == "waitMs" else 5000}'
            await wire.send(
                f'{{"id":2,"method":"process/read","params":{{"processId":"p"{wait}}}}}'
            )
            assert (await wire.response(2))["result"]["exited"] is True
        await _still_serving(server.url)


async def test_replies_queued_before_a_closing_frame_are_flushed(
    server: execsrv.ExecServer, caplog: pytest.LogCaptureFixture
) -> None:
    """A burst of requests then a stray notification: every reply the reader queued
    goes out before the close (the writer once crashed on the closed queue)."""
    assert server.url is not None
    caplog.set_level(logging.ERROR, logger="execsrv")
    with trio.fail_after(10):
        for _ in range(5):
            async with open_wire(server.url) as wire:
                for index in range(100):
                    await wire.send({"id": index, "method": "no/such"})
                await wire.send({"method": "foo/bar"})
                code, _reason = await wire.wait_closed()
                assert code == 1008
                assert sorted(wire.responses) == list(range(100))
        await _still_serving(server.url)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
