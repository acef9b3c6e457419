"""Large ``fs/readFile`` replies: bounded in flight, and the server stays responsive
(issue 8, points 8 and 11).

A reply to a client that does not read stays in the server's send for as long
as the test wants (:mod:`tests.stalled_client`), which makes "in flight"
observable without timing.
"""

from __future__ import annotations

import base64
import os
from dataclasses import replace
from functools import partial
from pathlib import Path

import pytest
import trio

import execsrv
from execsrv.server.budget import LARGE_REPLY_BYTES, base64_size

from ..conftest import TEST_CONFIG
from ..stalled_client import open_stalled_client
from ..transport.stdio import open_stdio_server
from .support import read_file_0130
from .test_blocking import descriptors_on

MIB = 1 << 20
WAIT = 30
BIG_FILE_BYTES = 16 * MIB
"""Its reply (21 MiB of base64) is more than loopback socket buffers hold."""
BUDGET = base64_size(BIG_FILE_BYTES) + 4 * MIB
"""Room for one big reply, not two."""


@pytest.fixture
async def budget_server(nursery: trio.Nursery) -> execsrv.ExecServer:
    config = replace(TEST_CONFIG, max_reply_bytes_in_flight=BUDGET)
    return await nursery.start(partial(execsrv.serve, "ws://127.0.0.1:0", config=config))


async def wait_until_reserved(server: execsrv.ExecServer, *, waiting: int = 0) -> None:
    """Poll (the caller's deadline) until a reply holds budget and ``waiting`` wait for it."""
    budget = server.reply_budget
    while not (budget.in_use > 0 and budget.waiting == waiting):  # noqa: ASYNC110 (no event)
        await trio.sleep(0.01)


async def test_concurrent_big_reads_wait_for_the_reply_budget(
    budget_server: execsrv.ExecServer, tmp_path: Path
) -> None:
    content = os.urandom(BIG_FILE_BYTES)
    big = tmp_path / "big"
    big.write_bytes(content)
    small = tmp_path / "small"
    small.write_bytes(b"s" * (LARGE_REPLY_BYTES // 2))
    assert budget_server.url is not None
    results: list[bytes] = []
    with trio.fail_after(WAIT):
        async with (
            open_stalled_client(budget_server.url) as stalled,
            execsrv.connect(budget_server.url, client_name="second") as second,
            trio.open_nursery() as nursery,
        ):
            await stalled.send({"id": 1, "method": "fs/readFile", "params": {"path": str(big)}})
            await wait_until_reserved(budget_server)

            async def read_big() -> None:
                results.append(await second.fs.read_file(big))

            nursery.start_soon(read_big)
            await wait_until_reserved(budget_server, waiting=1)
            # small replies and other calls do not wait for the budget
            assert await second.fs.read_file(small) == small.read_bytes()
            assert (await second.fs.get_metadata(big)).size == BIG_FILE_BYTES
            assert results == []
            assert budget_server.reply_budget.waiting == 1

            reply = await stalled.receive()  # the first reply leaves; the second may go
            assert reply["id"] == 1
            assert base64.b64decode(reply["result"]["dataBase64"]) == content
    assert results == [content]
    assert budget_server.reply_budget.in_use == 0


async def test_a_cheap_call_answers_while_a_large_reply_is_in_flight(
    server: execsrv.ExecServer, tmp_path: Path
) -> None:
    content = os.urandom(64 * MIB)
    big = tmp_path / "big"
    big.write_bytes(content)
    assert server.url is not None
    with trio.fail_after(WAIT):
        async with (
            open_stalled_client(server.url) as stalled,
            execsrv.connect(server.url, client_name="other") as other,
        ):
            await stalled.send({"id": 1, "method": "fs/readFile", "params": {"path": str(big)}})
            await wait_until_reserved(server)  # being read and encoded, or sent
            for _ in range(10):
                assert (await other.fs.get_metadata(big)).size == len(content)
            assert server.reply_budget.in_use > 0  # still in flight: nobody read it
            reply = await stalled.receive()
            assert reply["id"] == 1
            assert base64.b64decode(reply["result"]["dataBase64"]) == content


async def test_a_fifo_read_reserves_the_budget_once_it_grows_large(
    server: execsrv.ExecServer, client: execsrv.Client, tmp_path: Path
) -> None:
    """A FIFO's size is unknown: it reads 1 MiB (as base64) unreserved, then reserves."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    writer = os.open(fifo, os.O_RDWR | os.O_NONBLOCK)
    content = os.urandom(2 * MIB)
    results: list[bytes] = []

    async def write(data: memoryview) -> None:
        while data:
            await trio.lowlevel.wait_writable(writer)
            try:
                data = data[os.write(writer, data) :]
            except BlockingIOError:
                continue

    try:
        with trio.fail_after(WAIT):
            async with trio.open_nursery() as nursery:

                async def read() -> None:
                    results.append(await read_file_0130(client, fifo))

                nursery.start_soon(read)
                assert server.reply_budget.in_use == 0
                await write(memoryview(content)[:MIB])
                while server.reply_budget.in_use == 0:  # noqa: ASYNC110 (no event for it)
                    await trio.sleep(0.01)
                await write(memoryview(content)[MIB:])
                os.close(writer)
                writer = -1
    finally:
        if writer >= 0:
            os.close(writer)
    assert results == [content]
    assert server.reply_budget.in_use == 0


async def test_large_and_small_replies_keep_their_framing(
    server: execsrv.ExecServer, tmp_path: Path
) -> None:
    """Pipelined: results sent in parts (2 MiB), framed directly (96 KiB), and small
    ones arrive whole, each a frame of its own, to a strict websocket client."""
    files = {"big": os.urandom(2 * MIB), "mid": os.urandom(96 * 1024), "tiny": b"t"}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    names = ["big", "tiny", "mid", "tiny", "big"]
    assert server.url is not None
    with trio.fail_after(WAIT):
        async with open_stalled_client(server.url) as client:
            for number, name in enumerate(names, start=1):
                params = {"path": str(tmp_path / name)}
                await client.send({"id": number, "method": "fs/readFile", "params": params})
            replies = [await client.receive() for _ in names]
    got = {reply["id"]: base64.b64decode(reply["result"]["dataBase64"]) for reply in replies}
    assert got == {number: files[name] for number, name in enumerate(names, start=1)}


async def test_a_large_reply_over_stdio_is_one_line(tmp_path: Path) -> None:
    content = os.urandom(2 * MIB)
    (tmp_path / "big").write_bytes(content)
    with trio.fail_after(WAIT):
        async with open_stdio_server() as stdio:
            await stdio.handshake()
            for number in (1, 2):
                params = {"path": str(tmp_path / "big")}
                await stdio.send({"id": number, "method": "fs/readFile", "params": params})
            await stdio.send({"id": 3, "method": "fs/getMetadata", "params": params})
            replies = [await stdio.recv() for _ in range(3)]
            await stdio.close_stdin()
    by_id = {reply["id"]: reply["result"] for reply in replies}
    assert sorted(by_id) == [1, 2, 3]  # each reply a line of its own (in any order)
    for number in (1, 2):
        assert base64.b64decode(by_id[number]["dataBase64"]) == content
    assert by_id[3]["size"] == len(content)


async def test_a_queued_large_reply_holds_the_budget_until_written(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    """Two big reads on a client that does not read: one reply is being written
    (stalled), the other queues behind it, and each holds its budget until it is
    written, so a third big read waits. (Released when merely queued, one
    pipelining client could queue any number of them.)"""
    reservation = base64_size(BIG_FILE_BYTES)
    config = replace(TEST_CONFIG, max_reply_bytes_in_flight=2 * reservation + 4 * MIB)
    server = await nursery.start(partial(execsrv.serve, "ws://127.0.0.1:0", config=config))
    content = os.urandom(BIG_FILE_BYTES)
    big = tmp_path / "big"
    big.write_bytes(content)
    budget = server.reply_budget
    results: list[bytes] = []
    with trio.fail_after(WAIT):
        async with (
            open_stalled_client(server.url) as stalled,
            execsrv.connect(server.url, client_name="third") as third,
            trio.open_nursery() as reads,
        ):
            for number in (1, 2):
                params = {"path": str(big)}
                await stalled.send({"id": number, "method": "fs/readFile", "params": params})
            # both read (the file is closed again), both replies still hold their bytes
            while not (budget.in_use == 2 * reservation and descriptors_on(big) == 0):  # noqa: ASYNC110
                await trio.sleep(0.01)

            async def read_third() -> None:
                results.append(await third.fs.read_file(big))

            reads.start_soon(read_third)
            while budget.waiting == 0:  # noqa: ASYNC110 (no event for it)
                await trio.sleep(0.01)
            assert results == []
            replies = [await stalled.receive() for _ in (1, 2)]
    assert sorted(reply["id"] for reply in replies) == [1, 2]
    for reply in replies:
        assert base64.b64decode(reply["result"]["dataBase64"]) == content
    assert results == [content]
    assert budget.in_use == 0
