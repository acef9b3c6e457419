"""The server engine and the client over the memory transport: no socket, one trio run.

A :class:`MemoryServer` is a real session registry with real ``Connection``\\ s and
the server's real routes; :func:`open_memory_client` is a real ``Client`` on a
memory transport; :class:`MemoryWire` is the raw JSON-RPC peer of ``tests/wire.py``
on one. Run them on the autojump clock and a TTL, a grace period or a back-off
happens exactly and at once.

This is the only test module that builds a ``Connection`` or a ``Client`` on a
transport (both constructors are being reworked): adapt it here.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import trio

from execsrv import ServerConfig
from execsrv.client import Client
from execsrv.client.client import running_client
from execsrv.client.supervisor import Dialer
from execsrv.client.unwrap import unwrap_exception_groups
from execsrv.protocol.generation import Generation
from execsrv.server.connection import Connection
from execsrv.server.routes import RouteTable
from execsrv.server.server import ExecServer
from execsrv.server.session import SessionRegistry
from execsrv.transport import (
    MemoryTransport,
    MessageTransport,
    TransportClosed,
    memory_transport_pair,
)
from execsrv.transport.base import EncodedMessage
from execsrv.transport.memory import PEER_CLOSED

from .conftest import TEST_CONFIG
from .wire import Message, WireClient, WireClosed

__all__ = [
    "MemoryServer",
    "MemoryWire",
    "SpeakingAs",
    "open_memory_client",
    "open_memory_server",
    "open_memory_wire",
]


@dataclass
class MemoryServer:
    """Sessions and connections as ``open_server`` nests them, without listeners."""

    config: ServerConfig
    registry: SessionRegistry
    _routes: RouteTable
    _nursery: trio.Nursery
    connections: list[Connection] = field(default_factory=list)
    """Every connection served, oldest first."""
    _server_ends: list[MemoryTransport] = field(default_factory=list)

    async def connect(self) -> MemoryTransport:
        """A new peer: the client's end of a pair whose other end a ``Connection`` serves.

        Usable as a client's ``dial``.
        """
        client_end, server_end = memory_transport_pair(self.config.max_message_bytes)
        connection = Connection(server_end, self.registry, self._routes)
        self.connections.append(connection)
        self._server_ends.append(server_end)
        self._nursery.start_soon(self._serve, connection, server_end)
        await trio.lowlevel.checkpoint()
        return client_end

    async def _serve(self, connection: Connection, transport: MemoryTransport) -> None:
        """As ``ExecServer._run_websocket``: the peer learns why (its 1008 close reason)."""
        try:
            await connection.run()
        finally:
            closing_rule = connection.violation or connection.evicted
            with trio.CancelScope(shield=True):
                await transport.aclose(
                    reason=connection.close_reason if closing_rule else PEER_CLOSED
                )
            self._server_ends.remove(transport)

    async def sever(self) -> int:
        """Drop every open connection without a goodbye, as a network failure does;
        returns how many there were."""
        ends = list(self._server_ends)
        for end in ends:
            await end.abort()
        return len(ends)


@asynccontextmanager
async def open_memory_server(config: ServerConfig = TEST_CONFIG) -> AsyncIterator[MemoryServer]:
    """A :class:`MemoryServer`; on exit its connections end, then its sessions."""
    async with trio.open_nursery() as holding:
        registry = SessionRegistry(
            holding, ttl=config.session_ttl, max_sessions=config.max_sessions
        )
        try:
            async with trio.open_nursery() as connections:
                # The server's own route table (its handlers), with no listener.
                routes = ExecServer(config, registry, connections).routes
                try:
                    yield MemoryServer(config, registry, routes, connections)
                finally:
                    connections.cancel_scope.cancel()
        finally:
            holding.cancel_scope.cancel()


class SpeakingAs:
    """The client's end of a connection, made to look like a server of ``generation``.

    ``initialize`` results lose ``environmentInfo`` (0.130), the one thing a
    client tells the generations apart by, or keep execsrv's (0.171); everything
    else is the real server's. Every message the client sends is kept in ``sent``.
    """

    def __init__(
        self, transport: MessageTransport, generation: Generation, sent: list[Message]
    ) -> None:
        self._transport = transport
        self._generation = generation
        self.sent = sent
        self.description = transport.description

    async def receive_message(self) -> bytes | str:
        data = await self._transport.receive_message()
        message = json.loads(data)
        result = message.get("result") if isinstance(message, dict) else None
        if not isinstance(result, dict) or "sessionId" not in result:
            return data
        if self._generation is Generation.V0_171:
            return data
        result.pop("environmentInfo", None)
        return json.dumps(message).encode()

    async def send_messages(self, messages: Sequence[EncodedMessage]) -> None:
        for message in messages:
            whole = message if isinstance(message, bytes) else b"".join(message.parts)
            self.sent.append(json.loads(whole))
        await self._transport.send_messages(messages)

    async def aclose(self) -> None:
        await self._transport.aclose()

    async def abort(self) -> None:
        await self._transport.abort()


def _speaking_as(dial: Dialer, generation: Generation, sent: list[Message] | None) -> Dialer:
    frames = [] if sent is None else sent

    async def dial_as() -> MessageTransport:
        return SpeakingAs(await dial(), generation, frames)

    return dial_as


@unwrap_exception_groups
@asynccontextmanager
async def open_memory_client(
    server: MemoryServer,
    *,
    resume_session_id: str | None = None,
    dial: Dialer | None = None,
    client_name: str = "pytest",
    speaking_as: Generation | None = None,
    sent: list[Message] | None = None,
) -> AsyncIterator[Client]:
    """A real client connected to ``server``, its handshake done, as ``connect`` makes one.

    With ``dial`` (``server.connect``, or a test's own), a dropped connection is
    re-dialled and the session resumed, as with ``connect(auto_resume=True)``.
    With ``speaking_as``, every connection is a :class:`SpeakingAs` (whose
    messages the client sends go to ``sent``).
    """
    connect: Dialer = server.connect
    if speaking_as is not None:
        connect = _speaking_as(connect, speaking_as, sent)
        dial = _speaking_as(dial, speaking_as, sent) if dial is not None else None
    async with trio.open_nursery() as nursery:
        transport = await connect()
        async with running_client(
            nursery,
            transport,
            client_name=client_name,
            server_name="the memory server",
            resume_session_id=resume_session_id,
            dial=dial,
        ) as client:
            yield client


class MemoryWire(WireClient):
    """``tests/wire.py``'s raw JSON-RPC peer on a memory transport: every frame is
    bytes (text and binary frames alike); a closed transport is ``WireClosed``
    with no code and the server's close reason."""

    def __init__(self, transport: MemoryTransport) -> None:
        self.transport = transport
        self.notifications: list[Message] = []
        self.responses: dict[Any, Message] = {}
        self._next_id = 1

    async def send(self, obj: Message | list[Any] | str | bytes) -> None:
        if isinstance(obj, dict | list):
            obj = json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
        try:
            await self.transport.send_messages([obj.encode() if isinstance(obj, str) else obj])
        except TransportClosed as closed:
            raise WireClosed(None, closed.reason) from None

    async def recv(self) -> Message:
        try:
            data = await self.transport.receive_message()
        except TransportClosed as closed:
            raise WireClosed(None, closed.reason) from None
        message = json.loads(data)
        if not isinstance(message, dict):
            raise AssertionError(f"server sent a non-object JSON message: {data!r}")
        return message


@asynccontextmanager
async def open_memory_wire(server: MemoryServer) -> AsyncIterator[MemoryWire]:
    """A raw peer connected to ``server``; its end is closed when the block exits."""
    transport = await server.connect()
    try:
        yield MemoryWire(transport)
    finally:
        await transport.aclose()
