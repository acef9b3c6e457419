"""A websocket client that reads only when asked to (wsproto over a raw TCP stream).

While it does not read, a large reply to it stays in the server's send (TCP
backpressure): tests use it to hold a reply "in flight" for as long as they
need, and check what the server does meanwhile.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

import trio
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, Ping, Request, TextMessage

RECEIVE_BYTES = 1 << 20


class StalledClient:
    def __init__(self, stream: trio.SocketStream, websocket: WSConnection) -> None:
        self._stream = stream
        self._websocket = websocket
        self._text: list[str] = []
        self._messages: list[dict[str, Any]] = []

    async def send(self, message: dict[str, Any]) -> None:
        await self._stream.send_all(self._websocket.send(TextMessage(data=json.dumps(message))))

    async def receive(self) -> dict[str, Any]:
        """The next whole message (reading the socket until it is in)."""
        while not self._messages:
            data = await self._stream.receive_some(RECEIVE_BYTES)
            if not data:
                raise EOFError("the server closed the connection")
            self._websocket.receive_data(data)
            for event in self._websocket.events():
                if isinstance(event, TextMessage):
                    self._text.append(event.data)
                    if event.message_finished:
                        self._messages.append(json.loads("".join(self._text)))
                        self._text = []
                elif isinstance(event, Ping):
                    await self._stream.send_all(self._websocket.send(event.response()))
        return self._messages.pop(0)

    async def handshake(self) -> None:
        await self.send({"id": 0, "method": "initialize", "params": {"clientName": "stalled"}})
        assert "result" in await self.receive()
        await self.send({"method": "initialized"})


@asynccontextmanager
async def open_stalled_client(url: str) -> AsyncIterator[StalledClient]:
    """Connected and initialized; nothing is read until :meth:`StalledClient.receive`."""
    parts = urlsplit(url)
    assert parts.hostname is not None
    assert parts.port is not None
    stream = await trio.open_tcp_stream(parts.hostname, parts.port)
    async with stream:
        websocket = WSConnection(ConnectionType.CLIENT)
        await stream.send_all(websocket.send(Request(host=parts.netloc, target="/")))
        accepted = False
        while not accepted:
            websocket.receive_data(await stream.receive_some(RECEIVE_BYTES))
            accepted = any(isinstance(event, AcceptConnection) for event in websocket.events())
        client = StalledClient(stream, websocket)
        await client.handshake()
        yield client
