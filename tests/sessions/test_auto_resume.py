"""Client auto-resume: a process's event stream survives forced disconnects.

The child echoes numbered lines that the test feeds it through a FIFO, and
acknowledges each line on a second FIFO, so the test knows exactly when
output was produced: some of it while the client is cut off (the proxy holds
its reconnects), which the resumed client must recover with reads.
"""

from __future__ import annotations

import os
from functools import partial
from pathlib import Path

import pytest
import trio

import execsrv
from execsrv import RemoteProcess

from ..conftest import CHILD_ENV
from ..proxy import Proxy, open_proxy

BATCH = 500
BATCHES = 5  # fed before, during (x3, while disconnected) and after the outages
SCRIPT = 'exec 3>"$1"; while read n; do echo "line $n"; echo "$n" >&3; done < "$2"'


class Feeder:
    """Feeds the child's input FIFO and waits for its acknowledgements."""

    def __init__(self, feed: trio.abc.AsyncResource, acks: trio.abc.AsyncResource) -> None:
        self.feed = feed
        self.acks = acks
        self.sent = 0
        self._ack_buffer = b""

    async def batch(self, size: int = BATCH) -> None:
        lines = range(self.sent, self.sent + size)
        await self.feed.write(b"".join(b"%d\n" % n for n in lines))  # type: ignore[attr-defined]
        self.sent += size
        last = b"%d\n" % (self.sent - 1)
        while not self._ack_buffer.endswith(last):
            self._ack_buffer += await self.acks.read(65536)  # type: ignore[attr-defined]
        self._ack_buffer = b""


async def start_echoer(client: execsrv.Client, tmp_path: Path) -> tuple[RemoteProcess, Feeder]:
    """Start the echoing child on two fresh FIFOs; returns it and its feeder.

    Opening a FIFO waits for the child to open the other end: call it under a deadline.
    """
    feed_path, ack_path = tmp_path / "feed", tmp_path / "ack"
    os.mkfifo(feed_path)
    os.mkfifo(ack_path)
    proc = await client.start_process(
        ["sh", "-c", SCRIPT, "sh", str(ack_path), str(feed_path)], env=CHILD_ENV
    )
    acks = await trio.open_file(ack_path, "rb", buffering=0)
    feed = await trio.open_file(feed_path, "wb", buffering=0)
    return proc, Feeder(feed, acks)


async def cut_and_feed(proxy: Proxy, feeder: Feeder) -> None:
    """Disconnect the client, produce a batch while it cannot come back, let it back."""
    proxy.hold()
    assert proxy.sever() == 1
    await feeder.batch()
    proxy.release()


async def test_stream_survives_three_disconnects_without_loss_or_duplicates(
    server: execsrv.ExecServer, tmp_path: Path
) -> None:
    assert server.port is not None
    expected = b"".join(b"line %d\n" % n for n in range(BATCH * BATCHES))
    async with (
        open_proxy(server.port) as proxy,
        execsrv.connect(proxy.url, auto_resume=True) as client,
    ):
        with trio.fail_after(60):
            proc, feeder = await start_echoer(client, tmp_path)
            await feeder.batch()
            received = bytearray()
            seqs: list[int] = []
            async for event in proc.stream:
                match event:
                    case execsrv.Output(seq=seq, data=data):
                        seqs.append(seq)
                        received += data
                        if received.count(b"\n") == feeder.sent:
                            if client.resumes < 3:
                                await cut_and_feed(proxy, feeder)
                            elif feeder.sent < BATCH * BATCHES:
                                await feeder.batch()
                            else:
                                await feeder.feed.aclose()
                    case execsrv.Exited(seq=seq, exit_code=code):
                        assert code == 0
                        seqs.append(seq)
                    case execsrv.Closed(seq=seq):
                        seqs.append(seq)
                    case _:
                        pytest.fail(f"unexpected event {event!r}")
            await feeder.acks.aclose()
        assert bytes(received) == expected
        assert seqs == list(range(1, len(seqs) + 1))
        assert client.resumes == 3
        assert proxy.connections == 4


async def test_output_beyond_retention_while_disconnected_is_caught_up_without_a_gap(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    """More output than retention holds while nobody can receive it: the server stops
    reading the child instead of evicting it, and the resumed client reads it all."""
    config = execsrv.ServerConfig(retention_bytes=4096, kill_grace=0.5)
    server = await nursery.start(partial(execsrv.serve, "ws://127.0.0.1:0", config=config))
    async with (
        open_proxy(server.port) as proxy,
        execsrv.connect(proxy.url, auto_resume=True) as client,
    ):
        with trio.fail_after(60):
            proc, feeder = await start_echoer(client, tmp_path)
            proxy.hold()
            assert proxy.sever() == 1
            for _ in range(20):  # ~4.4 KB in 20 acknowledged batches while cut off
                await feeder.batch(25)
            proxy.release()
            await feeder.feed.aclose()
            events = [event async for event in proc.stream]
            await feeder.acks.aclose()
    assert not [e for e in events if isinstance(e, execsrv.Gap)]
    outputs = [e for e in events if isinstance(e, execsrv.Output)]
    assert b"".join(e.data for e in outputs) == b"".join(b"line %d\n" % n for n in range(500))
    assert isinstance(events[-1], execsrv.Closed)
    seqs = [e.seq for e in events]
    assert seqs == list(range(1, len(seqs) + 1))
