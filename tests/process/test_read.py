"""``process/read``: the afterSeq cursor, maxBytes, the nextSeq rule, the extension fields
(``exitSeq``, ``closedSeq``, ``truncated``), and long-polls that wake on output or exit
without holding up other requests on the connection (spec §4.4, §7; DESIGN.md §1.1.1)."""

from __future__ import annotations

import pytest
import trio

import execsrv
from execsrv.protocol import process as p
from execsrv.protocol.methods import PROCESS_READ

from ..wire import open_wire
from .support import CHILD_ENV, Collector, b64, exec_params, py, unb64

SIZES = (100, 200, 300)
# One chunk per stdin byte, so chunk n is exactly SIZES[n-1] bytes with seq n.
STEPPED = f"""
import os, sys
for i, n in enumerate({SIZES!r}):
    os.write(1, bytes([97 + i]) * n)
    os.read(0, 1)
sys.exit(7)
"""


async def _stepped(client: execsrv.Client) -> Collector:
    proc = await client.start_process(py(STEPPED), env=CHILD_ENV, pipe_stdin=True)
    seen = Collector(proc)
    for count in range(1, len(SIZES) + 1):
        await seen.until(lambda c, n=count: len(c.chunks()) == n)
        if count == 1:
            running = await proc.read(after_seq=0)
            assert [c.seq for c in running.chunks] == [1]
            assert running.next_seq == 2
            assert not running.exited
            assert running.exit_code is None
            assert not running.closed
            assert running.exit_seq is None
            assert running.closed_seq is None
        assert await proc.write(b"n") == "accepted"
    await seen.finish()
    return seen


async def test_cursor_max_bytes_next_seq_and_extension_fields(client: execsrv.Client) -> None:
    with trio.fail_after(10):
        seen = await _stepped(client)
    proc = seen.proc
    seen.assert_contiguous()
    assert [c.seq for c in seen.chunks()] == [1, 2, 3]
    assert seen.exited is not None
    assert seen.closed is not None
    assert (seen.exited.seq, seen.exited.exit_code, seen.closed.seq) == (4, 7, 5)

    full = await proc.read(after_seq=0)
    assert [(c.seq, c.stream, len(c.chunk)) for c in full.chunks] == [
        (1, "stdout", 100),
        (2, "stdout", 200),
        (3, "stdout", 300),
    ]
    # 0.171's rule (the client speaks 0.171): with maxBytes null, nextSeq counts the
    # exit and close events too (0.130 gives 4: tests/conformance/test_process_read.py).
    assert full.next_seq == 6
    assert (full.exited, full.exit_code, full.closed, full.failure) == (True, 7, True, None)
    assert (full.exit_seq, full.closed_seq, full.truncated) == (4, 5, False)
    assert await proc.read() == full  # afterSeq null means 0

    # Past the end: no chunks, and the true next seq.
    tail = await proc.read(after_seq=full.next_seq)
    assert tail.chunks == []
    assert tail.next_seq == 6

    middle = await proc.read(after_seq=1)
    assert [c.seq for c in middle.chunks] == [2, 3]
    assert middle.next_seq == 6
    for after_seq in (3, 4, 5, 99):
        response = await proc.read(after_seq=after_seq)
        assert response.chunks == [], after_seq
        assert response.next_seq == 6, after_seq

    for max_bytes, seqs in [
        (0, [1]),  # the first chunk always comes, whatever its size
        (1, [1]),
        (299, [1]),  # 100 + 200 would exceed it: stop before, never split
        (300, [1, 2]),
        (599, [1, 2]),
        (600, [1, 2, 3]),
        (None, [1, 2, 3]),
    ]:
        response = await proc.read(after_seq=0, max_bytes=max_bytes)
        assert [c.seq for c in response.chunks] == seqs, max_bytes
        # A set maxBytes keeps 0.130's rule in 0.171 too: after the last chunk.
        assert response.next_seq == (6 if max_bytes is None else seqs[-1] + 1), max_bytes
    after_two = await proc.read(after_seq=2, max_bytes=0)
    assert [c.seq for c in after_two.chunks] == [3]


async def test_read_of_unknown_process_is_an_error(client: execsrv.Client) -> None:
    with pytest.raises(execsrv.RemoteError) as error:
        await client.call(PROCESS_READ, p.ReadParams(process_id="nope"))
    assert (error.value.code, error.value.message) == (-32600, "unknown process id nope")


async def test_long_poll_returns_after_wait_ms_without_output(client: execsrv.Client) -> None:
    with trio.fail_after(10):
        proc = await client.start_process(["sleep", "30"], env=CHILD_ENV)
        began = trio.current_time()
        response = await proc.read(after_seq=0, wait_ms=300)
        elapsed = trio.current_time() - began
        assert response.chunks == []
        assert not response.exited
        assert response.next_seq == 1
        assert 0.3 <= elapsed < 5
        assert await proc.terminate() is True


async def test_long_poll_wakes_on_new_output_and_on_exit(server: execsrv.ExecServer) -> None:
    assert server.url is not None
    async with open_wire(server.url) as wire:
        await wire.handshake()
        with trio.fail_after(10):
            params = exec_params(
                "p", py("import os; os.read(0, 1); os.write(1, b'woke\\n'); os.read(0, 1)")
            )
            started = await wire.request("process/start", {**params, "pipeStdin": True})
            assert "result" in started
            # The read is on the wire before the write that makes the output exists.
            began = trio.current_time()
            poll = {"processId": "p", "afterSeq": 0, "waitMs": 20_000}
            await wire.send({"id": 10, "method": "process/read", "params": poll})
            write = {"processId": "p", "chunk": b64(b"1")}
            await wire.send({"id": 11, "method": "process/write", "params": write})
            assert (await wire.response(11))["result"] == {"status": "accepted"}
            woke = (await wire.response(10))["result"]
            assert trio.current_time() - began < 5
            assert [unb64(c["chunk"]) for c in woke["chunks"]] == [b"woke\n"]
            assert woke["exited"] is False

            poll = {"processId": "p", "afterSeq": woke["nextSeq"] - 1, "waitMs": 20_000}
            await wire.send({"id": 12, "method": "process/read", "params": poll})
            await wire.send({"id": 13, "method": "process/terminate", "params": {"processId": "p"}})
            assert (await wire.response(13))["result"] == {"running": True}
            ended = (await wire.response(12))["result"]
            assert trio.current_time() - began < 10
            assert ended["chunks"] == []
            assert ended["exited"] is True
            assert ended["exitCode"] == -1
            assert ended["exitSeq"] == woke["nextSeq"]

            # Closed: every read returns at once, whatever the cursor.
            await wire.next_notification("process/closed")
            began = trio.current_time()
            late = await wire.request(
                "process/read", {"processId": "p", "afterSeq": 99, "waitMs": 20_000}
            )
            assert late["result"]["closed"] is True
            assert trio.current_time() - began < 5


async def test_long_poll_does_not_delay_other_requests(server: execsrv.ExecServer) -> None:
    assert server.url is not None
    async with open_wire(server.url) as wire:
        await wire.handshake()
        with trio.fail_after(10):
            started = await wire.request(
                "process/start", {**exec_params("quiet", ["cat"]), "pipeStdin": True}
            )
            assert "result" in started
            poll = {"processId": "quiet", "afterSeq": 0, "waitMs": 5000}
            await wire.send({"id": 1, "method": "process/read", "params": poll})
            with trio.fail_after(2):
                other = await wire.request("process/start", exec_params("other", ["echo", "hi"]))
                assert other["result"] == {"processId": "other"}
                listed = await wire.request("process/list", {})
                assert {p["processId"] for p in listed["result"]["processes"]} == {"quiet", "other"}
                read = await wire.request("process/read", {"processId": "quiet"})
                assert read["result"]["chunks"] == []
            # All answered while the long-poll is still pending: nothing woke it yet.
            assert 1 not in wire.responses
            # A write to the same process does not queue behind the read either; its
            # echo is what wakes the long-poll.
            write = {"processId": "quiet", "chunk": b64(b"x")}
            assert (await wire.request("process/write", write))["result"] == {"status": "accepted"}
            woke = await wire.response(1)
            assert [unb64(c["chunk"]) for c in woke["result"]["chunks"]] == [b"x"]
            await wire.request("process/terminate", {"processId": "quiet"})
