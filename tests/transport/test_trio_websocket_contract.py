"""What execsrv relies on in trio-websocket beyond its public API.

``execsrv/transport/websocket.py`` is the one module that uses it (see its
docstring); each test here drives one of those private parts through that module,
over a real socket on 127.0.0.1, so a trio-websocket upgrade that moves or changes
one of them fails here, by name, before it fails somewhere far away.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest
import trio
import trio.testing
import trio_websocket
import wsproto

from execsrv.client.dial import dial_websocket
from execsrv.client.errors import AuthenticationFailed, Disconnected
from execsrv.transport import TransportClosed, WebSocketTransport
from execsrv.transport.websocket import (
    DIRECT_FRAME_BYTES,
    WebSocketConnection,
    accept_websocket,
    receive_upgrade_request,
    refuse_upgrade,
)

WAIT = 10
ServePeer = Callable[[trio.SocketStream, trio.Nursery], Awaitable[None]]


def test_the_private_names_are_there() -> None:
    assert inspect.iscoroutinefunction(WebSocketConnection._reader_task)
    assert list(inspect.signature(trio_websocket.WebSocketRequest).parameters)[:2] == [
        "connection",
        "event",
    ]
    left, _ = trio.testing.memory_stream_pair()
    client = trio_websocket.WebSocketConnection(
        left, wsproto.WSConnection(wsproto.ConnectionType.CLIENT), host="h", path="/"
    )
    assert isinstance(client._open_handshake, trio.Event)
    assert client._stream is left
    assert isinstance(client._stream_lock, trio.StrictFIFOLock | trio.Lock)


@asynccontextmanager
async def listening(serve_peer: ServePeer) -> AsyncIterator[str]:
    """A websocket URL whose connections are handed to ``serve_peer``."""
    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(trio.serve_tcp, lambda s: serve_peer(s, nursery), 0)
        yield f"ws://127.0.0.1:{listeners[0].socket.getsockname()[1]}/"
        nursery.cancel_scope.cancel()


async def test_server_accept_and_direct_frames_arrive_whole() -> None:
    """``WebSocketRequest(connection, event)``, the server's ``_reader_task`` and a
    direct frame written under ``_stream_lock`` to ``_stream``."""
    big = b'"' + b"x" * (4 * DIRECT_FRAME_BYTES) + b'"'

    async def serve_peer(stream: trio.SocketStream, nursery: trio.Nursery) -> None:
        request = await receive_upgrade_request(stream)
        websocket = await accept_websocket(nursery, request, max_message_size=1 << 20)
        transport = WebSocketTransport(websocket, role="websocket")
        await transport.send_messages([big, b'"small"'])
        assert await transport.receive_message() == "bye"
        await transport.abort()  # closes ``_stream``

    with trio.fail_after(WAIT):
        async with listening(serve_peer) as url, trio.open_nursery() as nursery:
            websocket = await dial_websocket(
                nursery, url, extra_headers=[], max_message_size=1 << 20, receive_buffer_size=4096
            )
            client = WebSocketTransport(websocket, role="client")
            assert await client.receive_message() == big.decode()
            assert await client.receive_message() == '"small"'
            await client.send_messages([b"bye"])
            with pytest.raises(TransportClosed):
                await client.receive_message()
            await client.abort()


async def test_a_refusal_during_the_client_handshake_is_typed() -> None:
    """The client's ``_reader_task`` raises ``ConnectionRejected`` for an HTTP error."""

    async def serve_peer(stream: trio.SocketStream, nursery: trio.Nursery) -> None:
        await receive_upgrade_request(stream)
        await refuse_upgrade(stream, 403, b"no")
        await stream.aclose()

    with trio.fail_after(WAIT):
        async with listening(serve_peer) as url, trio.open_nursery() as nursery:
            with pytest.raises(AuthenticationFailed):
                await dial_websocket(
                    nursery, url, extra_headers=[], max_message_size=1024, receive_buffer_size=4096
                )


async def test_a_reset_during_the_client_handshake_ends_the_wait_for_open() -> None:
    """``_open_handshake`` is never set when the reader ends first: the dial must not hang."""

    async def serve_peer(stream: trio.SocketStream, nursery: trio.Nursery) -> None:
        await receive_upgrade_request(stream)
        await stream.aclose()

    with trio.fail_after(WAIT):
        async with listening(serve_peer) as url, trio.open_nursery() as nursery:
            with pytest.raises(Disconnected):
                await dial_websocket(
                    nursery, url, extra_headers=[], max_message_size=1024, receive_buffer_size=4096
                )
