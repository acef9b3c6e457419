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
import trio.testing

import execsrv
from execsrv import RemoteProcess

from ..conftest import CHILD_ENV
from ..proxy import Cut, Proxy, open_proxy

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
            async for event in proc.events:
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
            events = [event async for event in proc.events]
            await feeder.acks.aclose()
    assert not [e for e in events if isinstance(e, execsrv.Gap)]
    outputs = [e for e in events if isinstance(e, execsrv.Output)]
    assert b"".join(e.data for e in outputs) == b"".join(b"line %d\n" % n for n in range(500))
    assert isinstance(events[-1], execsrv.Closed)
    seqs = [e.seq for e in events]
    assert seqs == list(range(1, len(seqs) + 1))


STREAM_LINES = 1 << 20
"""``seq -w 1 STREAM_LINES``: 8-byte numbered lines, 8 MiB, every line distinct."""
STREAM = b"".join(b"%07d\n" % n for n in range(1, STREAM_LINES + 1))
HANDSHAKE_CUTS = (
    # Client to server: upgrade request (154 bytes), initialize (~133), initialized (42).
    Cut(from_client=100),
    Cut(from_client=200),
    Cut(from_client=300),
    # Server to client: the 101 answer (129 bytes), the initialize reply (72).
    Cut(from_server=60),
    Cut(from_server=160),
)


@pytest.mark.parametrize("every", [400_000, 1_000_003, 3_000_017, 8_000_009])
async def test_stream_completes_exactly_under_repeated_resets(
    nursery: trio.Nursery, every: int
) -> None:
    """The proxy resets every connection once it has carried ``every`` bytes to the
    client, landing mid-frame in notifications and catch-up reads. ``every`` spans one
    output chunk's frame (256 KiB as base64: ~350 KB, the least a connection must carry
    to make progress) to more than a whole catch-up read (4 MiB: ~5.6 MB); at the
    ~20 MB/s this stream moves here, resets every ~0.02-0.4 s. The first outage also
    meets a reset at each step of the resume handshake before a resume gets through."""
    config = execsrv.ServerConfig(retention_bytes=2 * len(STREAM), kill_grace=0.5)
    server = await nursery.start(partial(execsrv.serve, "ws://127.0.0.1:0", config=config))
    async with open_proxy(server.port) as proxy:
        proxy.cut_after(Cut(from_server=every), *HANDSHAKE_CUTS, then=Cut(from_server=every))
        async with execsrv.connect(proxy.url, auto_resume=True) as client:
            with trio.fail_after(30):
                proc = await client.start_process(
                    ["seq", "-w", "1", str(STREAM_LINES)], env=CHILD_ENV
                )
                received = bytearray()
                async for event in proc.events:
                    match event:
                        case execsrv.Output(data=data):
                            received += data
                        case execsrv.Exited(exit_code=code):
                            assert code == 0
                        case execsrv.Closed():
                            pass
                        case _:
                            pytest.fail(f"unexpected event {event!r}")
    assert len(received) == len(STREAM)
    assert received == STREAM
    assert client.resumes >= 1
    assert proxy.cuts_made >= 1 + len(HANDSHAKE_CUTS)


async def until_cut_off(client: execsrv.Client) -> None:
    """Make calls until one fails: the client has noticed that its connection is gone."""
    while True:
        try:
            await client.list_processes()
        except execsrv.Disconnected:
            return


async def test_a_stream_behind_when_its_process_closed_still_recovers(
    server: execsrv.ExecServer, tmp_path: Path
) -> None:
    """The ``process/closed`` notification reaches a stream that is catching up (so it
    is not queued); the connection then drops before the consumer has read: the next
    resume must still recover that stream."""
    assert server.port is not None
    async with (
        open_proxy(server.port) as proxy,
        execsrv.connect(proxy.url, auto_resume=True) as client,
    ):
        with trio.fail_after(20):
            proc, feeder = await start_echoer(client, tmp_path)
            await feeder.batch()
            assert proxy.sever() == 1  # the resume puts the stream behind (unread)
            await client.wait_resumed(1)
            await feeder.feed.aclose()
            while not (await proc.read(after_seq=0)).closed:  # noqa: ASYNC110
                await trio.sleep(0.01)
            await client.list_processes()  # replies after the closed notification
            proxy.hold()
            assert proxy.sever() == 1
            await until_cut_off(client)
            events: list[execsrv.ProcessEvent] = []

            async def consume() -> None:
                events.extend([event async for event in proc.events])

            async with trio.open_nursery() as nursery:
                nursery.start_soon(consume)
                await trio.testing.wait_all_tasks_blocked()  # its catch-up read failed
                proxy.release()
            await feeder.acks.aclose()
    received = b"".join(event.data for event in events if isinstance(event, execsrv.Output))
    assert received == b"".join(b"line %d\n" % n for n in range(BATCH))
    assert isinstance(events[-1], execsrv.Closed)


async def test_wait_resumed_returns_after_each_resume(server: execsrv.ExecServer) -> None:
    assert server.port is not None
    async with (
        open_proxy(server.port) as proxy,
        execsrv.connect(proxy.url, auto_resume=True) as client,
    ):
        with trio.fail_after(10):
            await client.wait_resumed(0)  # at once: nothing to wait for
            for count in (1, 2):
                assert proxy.sever() == 1
                await client.wait_resumed(count)
                assert client.resumes == count
                assert await client.list_processes() == []  # the new connection works


async def test_wait_resumed_raises_when_the_client_gives_up(server: execsrv.ExecServer) -> None:
    """Without ``auto_resume`` the first drop is final: no waiter hangs."""
    assert server.port is not None
    async with open_proxy(server.port) as proxy, execsrv.connect(proxy.url) as client:
        with trio.fail_after(10):
            async with trio.open_nursery() as nursery:

                async def wait() -> None:
                    with pytest.raises(execsrv.Disconnected) as caught:
                        await client.wait_resumed(1)
                    assert caught.value is client.disconnected

                nursery.start_soon(wait)
                await trio.testing.wait_all_tasks_blocked()
                assert proxy.sever() == 1
            assert client.resumes == 0
