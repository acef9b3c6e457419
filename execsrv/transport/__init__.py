"""Message transports: websocket frames, newline-delimited lines, memory channels."""

from .base import MessageTransport, TransportClosed
from .lines import LineTransport
from .memory import MemoryTransport, memory_transport_pair
from .websocket import WebSocketTransport

__all__ = [
    "LineTransport",
    "MemoryTransport",
    "MessageTransport",
    "TransportClosed",
    "WebSocketTransport",
    "memory_transport_pair",
]
