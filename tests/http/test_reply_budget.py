"""Buffered ``http/request`` bodies share the server's reply budget with fs/readFile
(issue 8, point 11): a large one waits while another holds the budget."""

from __future__ import annotations

import base64
from dataclasses import replace
from functools import partial
from pathlib import Path

import pytest
import trio

import execsrv
from execsrv.server.budget import base64_size

from ..conftest import TEST_CONFIG
from ..stalled_client import open_stalled_client
from .server import HttpServer, pattern

MIB = 1 << 20
WAIT = 30
MAX_BODY = 16 * MIB
BIG_BODY = 12 * MIB
"""Its reply (16 MiB of base64) is more than loopback socket buffers hold."""


@pytest.fixture
async def budget_server(nursery: trio.Nursery, ca_file: Path) -> execsrv.ExecServer:
    """Room for one large buffered body (reserved at the body limit), not two."""
    config = replace(
        TEST_CONFIG,
        http_ca_file=str(ca_file),
        max_http_body_bytes=MAX_BODY,
        max_reply_bytes_in_flight=base64_size(MAX_BODY) + 4 * MIB,
    )
    return await nursery.start(partial(execsrv.serve, "ws://127.0.0.1:0", config=config))


async def test_large_buffered_bodies_wait_for_the_reply_budget(
    budget_server: execsrv.ExecServer, http_server: HttpServer
) -> None:
    budget = budget_server.reply_budget
    assert budget_server.url is not None
    bodies: list[bytes] = []
    with trio.fail_after(WAIT):
        async with (
            open_stalled_client(budget_server.url) as stalled,
            execsrv.connect(budget_server.url, client_name="second") as second,
            trio.open_nursery() as nursery,
        ):
            params = {
                "method": "GET",
                "url": http_server.url(f"/bytes?n={BIG_BODY}"),
                "requestId": "big",
            }
            await stalled.send({"id": 1, "method": "http/request", "params": params})
            while budget.in_use == 0:  # noqa: ASYNC110 (no event for it)
                await trio.sleep(0.01)

            async def request_big() -> None:
                response = await second.http.request("GET", http_server.url(f"/bytes?n={2 * MIB}"))
                bodies.append(response.body)

            nursery.start_soon(request_big)
            while budget.waiting == 0:  # noqa: ASYNC110 (no event for it)
                await trio.sleep(0.01)
            small = await second.http.request("GET", http_server.url("/bytes?n=1000"))
            assert small.body == pattern(1000)  # small bodies do not wait
            assert (bodies, budget.waiting) == ([], 1)

            reply = await stalled.receive()
            assert base64.b64decode(reply["result"]["bodyBase64"]) == pattern(BIG_BODY)
    assert bodies == [pattern(2 * MIB)]
    assert budget.in_use == 0
