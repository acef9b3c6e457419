"""The message transport interface shared by server and client.

A transport moves whole JSON-RPC messages (one websocket message, or one
stdio line) and knows nothing about JSON-RPC itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from ..protocol.jsonrpc import SplitMessage

__all__ = ["EncodedMessage", "MessageTransport", "TransportClosed"]

EncodedMessage = bytes | SplitMessage
"""One message's JSON, whole or in parts (a large one is never joined)."""


class TransportClosed(Exception):
    """The peer went away or the transport was closed; ``reason`` says how."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class MessageTransport(Protocol):
    """Whole messages in and out.

    ``receive_message`` and ``send_messages`` raise :class:`TransportClosed`
    when the transport ends; ``aclose`` is idempotent and never raises.
    ``receive_message`` may also raise
    :class:`~execsrv.protocol.framing.MessageTooLarge` for a message it
    dropped (stdio), after which the transport is still usable.
    """

    description: str
    """How the reference names this peer in parse errors, e.g.
    ``websocket JSON-RPC message from exec-server websocket 127.0.0.1:5000``."""

    async def receive_message(self) -> bytes | str: ...

    async def send_messages(self, messages: Sequence[EncodedMessage]) -> None:
        """Send several encoded messages in order (one frame or line each)."""
        ...

    async def aclose(self) -> None: ...

    async def abort(self) -> None:
        """Close at once, without any goodbye (used when cancelled)."""
        ...
