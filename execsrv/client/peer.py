"""The JSON-RPC peer: one transport, calls matched to replies by id, one reader.

A :class:`Peer` lives as long as its transport. When the transport ends, every
pending call and every later call raises :class:`~.errors.Disconnected`; a new
connection (a resume) gets a new peer. Error answers become exceptions here and
nowhere else (:func:`~.errors.client_error`), so ``FileNotFound`` comes out of
any call.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from typing import Final, Protocol, TypeVar

import msgspec
import trio

from ..logs import clip
from ..protocol import jsonrpc
from ..protocol.generation import Generation
from ..protocol.methods import Method, NotificationMethod
from ..protocol.wire import Params, Payload
from ..transport import MessageTransport, TransportClosed
from .errors import Disconnected, client_error

__all__ = ["Caller", "NotificationHandler", "Peer"]

log = logging.getLogger("execsrv.client")

P = TypeVar("P", bound=Params)
R = TypeVar("R", bound=Payload)

_encoder: Final = msgspec.json.Encoder()

NotificationHandler = Callable[[str, msgspec.Raw], None]
"""Takes a server notification on the reader task; must not block. Raising
``msgspec.ValidationError`` (params that do not fit) ends the connection."""


class Caller(Protocol):
    """Whatever calls methods by their typed constant for the APIs (the client),
    knowing which protocol generation the server speaks."""

    @property
    def generation(self) -> Generation: ...

    def wire_path(self, path: str | bytes) -> str: ...

    async def call(self, method: Method[P, R], params: P) -> R: ...


class _PendingCall:
    __slots__ = ("done", "error", "result")

    def __init__(self) -> None:
        self.done = trio.Event()
        self.result: msgspec.Raw | None = None
        self.error: Exception | None = None


class Peer:
    """The client's end of one JSON-RPC connection.

    Run :meth:`read_messages` in a task: it resolves pending calls and hands
    notifications to ``on_notification``. Calls may come from many tasks at
    once; cancelling one abandons it (its late reply is ignored).
    """

    def __init__(self, transport: MessageTransport, on_notification: NotificationHandler) -> None:
        self.transport = transport
        self._on_notification = on_notification
        self._ids = itertools.count(1)
        self._pending: dict[jsonrpc.RequestId, _PendingCall] = {}
        self._send_lock = trio.Lock()
        self.lost: Disconnected | None = None
        """Why the transport is gone, once it is; every call raises it from then on."""
        self._lost_event = trio.Event()

    async def call(self, method: Method[P, R], params: P) -> R:
        """Send a request and wait for its result, decoded as ``method`` says.

        Raises:
            RemoteError: the server answered with an error (a subclass such as
                ``FileNotFound`` where the code has one).
            Disconnected: the transport is gone (before or during the call).
        """
        if self.lost is not None:
            raise self.lost
        request_id = next(self._ids)
        pending = _PendingCall()
        self._pending[request_id] = pending
        try:
            message = _encoder.encode(
                jsonrpc.Request(id=request_id, method=method.name, params=params)
            )
            try:
                async with self._send_lock:
                    await self.transport.send_messages([message])
            except TransportClosed as error:
                self.lose(error.reason)
            await pending.done.wait()
        finally:
            del self._pending[request_id]
        if pending.error is not None:
            raise pending.error
        assert pending.result is not None
        return method.result_decoder.decode(pending.result)

    async def notify(self, notification: NotificationMethod[Payload], params: object) -> None:
        """Send a notification; raises ``Disconnected`` if the transport is gone."""
        if self.lost is not None:
            raise self.lost
        message = _encoder.encode(jsonrpc.Notification(method=notification.name, params=params))
        try:
            async with self._send_lock:
                await self.transport.send_messages([message])
        except TransportClosed as error:
            self.lose(error.reason)
            raise Disconnected(error.reason) from None

    async def read_messages(self) -> None:
        """The reader task: runs until the transport ends, then the peer is lost."""
        try:
            while True:
                self._receive(jsonrpc.decode_message(await self.transport.receive_message()))
        except TransportClosed as error:
            self.lose(error.reason)
        except msgspec.ValidationError as error:
            self.lose(f"exec-server notification handling failed: {error}")
            await self.transport.aclose()

    def lose(self, reason: str) -> None:
        """The transport is gone (or given up): fail every pending and later call.

        Idempotent; the first reason wins.
        """
        if self.lost is not None:
            return
        self.lost = Disconnected(reason)
        for pending in self._pending.values():
            pending.error = self.lost
            pending.done.set()
        self._lost_event.set()

    async def wait_lost(self) -> Disconnected:
        """Return (why) once the peer is lost."""
        await self._lost_event.wait()
        assert self.lost is not None
        return self.lost

    def _receive(self, message: jsonrpc.Message | jsonrpc.MalformedMessage) -> None:
        match message:
            case jsonrpc.IncomingResponse(id=request_id, result=result):
                pending = self._pending.get(request_id)
                if pending is not None:
                    pending.result = result
                    pending.done.set()
            case jsonrpc.IncomingError(id=request_id, error=error):
                pending = self._pending.get(request_id)
                if pending is not None:
                    pending.error = client_error(error.code, error.message)
                    pending.done.set()
            case jsonrpc.IncomingNotification(method=method, params=params) if params:
                self._on_notification(method, params)
            case _:
                log.debug("ignored message from server: %s", clip(repr(message)))
