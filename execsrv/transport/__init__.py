"""Message transports: websocket frames and newline-delimited lines."""

from .base import MessageTransport, TransportClosed
from .lines import LineTransport
from .websocket import WebSocketTransport

__all__ = ["LineTransport", "MessageTransport", "TransportClosed", "WebSocketTransport"]
