"""A raw JSON-RPC websocket client for protocol conformance tests.

It deliberately shares no code with execsrv: the same tests run against the real
codex exec-server, so this client must not inherit execsrv's opinions. It sends
exactly what it is given and hands back exactly what arrived, as plain dicts.

Time limits are the caller's: wrap calls in ``trio.fail_after``.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, Final

import trio
from trio_websocket import ConnectionClosed, WebSocketConnection, open_websocket_url

Message = dict[str, Any]
RequestId = int | str

MAX_MESSAGE_SIZE: Final = 64 * 1024 * 1024


class WireClosed(Exception):
    """The connection is closed; codex often drops TCP without a close frame (1006)."""

    def __init__(self, code: int | None, reason: str | None) -> None:
        super().__init__(f"websocket closed: code={code} reason={reason!r}")
        self.code = code
        self.reason = reason


class WireClient:
    """One websocket connection, spoken to one JSON-RPC message per frame."""

    def __init__(self, websocket: WebSocketConnection) -> None:
        self.websocket = websocket
        self.notifications: list[Message] = []
        """Notifications that arrived while waiting for something else, oldest first."""
        self.responses: dict[Any, Message] = {}
        """Other messages (responses, by id) that arrived while waiting for something else."""
        self._next_id = 1

    async def send(self, obj: Message | list[Any] | str | bytes) -> None:
        """Send ``obj``: dicts and lists as compact JSON text, str as text, bytes as binary."""
        if isinstance(obj, dict | list):
            payload: str | bytes = _dumps(obj)
        else:
            payload = obj
        try:
            await self.websocket.send_message(payload)
        except ConnectionClosed as exc:
            raise _closed(exc) from None

    async def send_binary(self, obj: Message | list[Any] | str | bytes) -> None:
        """Send ``obj`` as a binary frame (JSON-encoded unless it is already str or bytes)."""
        if isinstance(obj, dict | list):
            obj = _dumps(obj)
        if isinstance(obj, str):
            obj = obj.encode()
        await self.send(obj)

    async def recv(self) -> Message:
        """The next message, decoded; raises WireClosed once the connection is gone."""
        try:
            data = await self.websocket.get_message()
        except ConnectionClosed as exc:
            raise _closed(exc) from None
        message = json.loads(data)
        if not isinstance(message, dict):
            raise AssertionError(f"server sent a non-object JSON message: {data!r}")
        return message

    async def request(
        self, method: str, params: Any = ..., *, id: RequestId | None = None
    ) -> Message:
        """Send a request and return its response (a ``result`` or an ``error`` object).

        Leaving ``params`` out (or passing ``...``) omits the key; ``None`` sends null.
        Notifications that arrive meanwhile go to ``self.notifications``.
        """
        if id is None:
            id = self._next_id
            self._next_id += 1
        await self.send(_envelope(method, params, id=id))
        return await self.response(id)

    async def response(self, id: RequestId) -> Message:
        """Wait for the response with this id (e.g. after pipelining with ``send``)."""
        for stashed_id in self.responses:
            if _same_id(stashed_id, id):
                return self.responses.pop(stashed_id)
        while True:
            message = await self.recv()
            if not _is_notification(message) and _same_id(message.get("id"), id):
                return message
            self._stash(message)

    async def notify(self, method: str, params: Any = ...) -> None:
        """Send a notification (no id, no reply expected); ``params`` as for ``request``."""
        await self.send(_envelope(method, params))

    async def handshake(self, client_name: str = "wire-test") -> str:
        """``initialize`` then ``initialized``; returns the session id."""
        response = await self.request("initialize", {"clientName": client_name})
        if "result" not in response:
            raise AssertionError(f"initialize failed: {response}")
        await self.notify("initialized", {})
        session_id = response["result"]["sessionId"]
        assert isinstance(session_id, str)
        return session_id

    async def next_notification(
        self,
        method: str | None = None,
        predicate: Callable[[Message], bool] | None = None,
    ) -> Message:
        """The oldest matching notification, stashed or yet to come.

        Non-matching notifications stay stashed, in order, for later calls.
        """

        def matches(message: Message) -> bool:
            if method is not None and message.get("method") != method:
                return False
            return predicate is None or predicate(message)

        for index, message in enumerate(self.notifications):
            if matches(message):
                return self.notifications.pop(index)
        while True:
            message = await self.recv()
            if _is_notification(message) and matches(message):
                return message
            self._stash(message)

    async def wait_closed(self) -> tuple[int | None, str | None]:
        """Read (and stash) messages until the server closes; returns (code, reason)."""
        while True:
            try:
                message = await self.recv()
            except WireClosed as closed:
                return closed.code, closed.reason
            self._stash(message)

    def _stash(self, message: Message) -> None:
        if _is_notification(message):
            self.notifications.append(message)
        else:
            self.responses[message.get("id")] = message


@asynccontextmanager
async def open_wire(url: str) -> AsyncIterator[WireClient]:
    """Connect to ``url``; the connection is closed when the block exits."""
    websocket: WebSocketConnection | None = None
    try:
        async with open_websocket_url(url, max_message_size=MAX_MESSAGE_SIZE) as websocket:
            yield WireClient(websocket)
    finally:
        # trio-websocket 0.12 never closes the socket after an abnormal closure
        # (the peer dropped TCP without a close frame, as codex does): aclose() sees
        # a close reason already set and returns early. Close it ourselves, or the
        # GC's ResourceWarning fails the test under filterwarnings=error.
        if websocket is not None:
            with trio.CancelScope(shield=True):
                await websocket._stream.aclose()


def _dumps(obj: object) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def _envelope(method: str, params: Any, *, id: RequestId | None = None) -> Message:
    message: Message = {} if id is None else {"id": id}
    message["method"] = method
    if params is not ...:
        message["params"] = params
    return message


def _is_notification(message: Message) -> bool:
    return "method" in message and "id" not in message


def _same_id(received: object, expected: RequestId) -> bool:
    """Ids match by type too: the response to id 1 must not be taken for id "1" or True."""
    return type(received) is type(expected) and received == expected


def _closed(exc: ConnectionClosed) -> WireClosed:
    reason = exc.reason
    if reason is None:
        return WireClosed(None, None)
    return WireClosed(int(reason.code), reason.reason)
