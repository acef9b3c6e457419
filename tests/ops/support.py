"""Plain HTTP against a live server's websocket port, as an orchestrator's probe does."""

from __future__ import annotations

import base64
import os
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import h11
import trio

PROBE_SECONDS = 5.0
"""Time limit of one request."""


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[bytes, bytes]
    body: bytes


def address(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    assert parts.hostname is not None, url
    assert parts.port is not None, url
    return parts.hostname, parts.port


def upgrade_headers() -> list[tuple[str, str]]:
    """The headers that make a request a websocket upgrade."""
    key = base64.b64encode(os.urandom(16)).decode()
    return [
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Key", key),
        ("Sec-WebSocket-Version", "13"),
    ]


async def request(
    url: str, target: str, *, method: str = "GET", headers: Sequence[tuple[str, str]] = ()
) -> Answer:
    """One HTTP/1.1 request to ``url``'s host and port, parsed with h11 (a 101 is
    returned with an empty body). Raises OSError if nothing listens there."""
    host, port = address(url)
    client = h11.Connection(h11.CLIENT)
    head = h11.Request(method=method, target=target, headers=[("Host", f"{host}:{port}"), *headers])
    with trio.fail_after(PROBE_SECONDS):
        stream = await trio.open_tcp_stream(host, port)
        async with stream:
            await stream.send_all(client.send(head) + client.send(h11.EndOfMessage()))
            response: h11.Response | h11.InformationalResponse | None = None
            body = bytearray()
            while True:
                event = client.next_event()
                if event is h11.NEED_DATA:
                    client.receive_data(await stream.receive_some())
                elif isinstance(event, h11.InformationalResponse):
                    return Answer(event.status_code, dict(event.headers), b"")
                elif isinstance(event, h11.Response):
                    response = event
                elif isinstance(event, h11.Data):
                    body += event.data
                elif isinstance(event, h11.EndOfMessage):
                    assert response is not None
                    return Answer(response.status_code, dict(response.headers), bytes(body))
                else:
                    raise AssertionError(f"unexpected {event!r}")


async def get(url: str, target: str) -> Answer:
    return await request(url, target)


async def until_status(url: str, target: str, status: int, *, within: float = 10.0) -> Answer:
    """Probe ``target`` until it answers ``status`` (an orchestrator's probe loop, every
    20 ms), failing after ``within`` seconds; the answer."""
    with trio.fail_after(within):
        while (answer := await get(url, target)).status != status:  # noqa: ASYNC110 (it is HTTP)
            await trio.sleep(0.02)
        return answer
