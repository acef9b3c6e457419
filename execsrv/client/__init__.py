"""The trio client for execsrv and codex exec-servers."""

from .client import Client, connect
from .errors import ClientError, Disconnected, RemoteError
from .events import Closed, Exited, Failed, Gap, Output, ProcessEvent
from .process import ProcessResult, RemoteProcess

__all__ = [
    "Client",
    "ClientError",
    "Closed",
    "Disconnected",
    "Exited",
    "Failed",
    "Gap",
    "Output",
    "ProcessEvent",
    "ProcessResult",
    "RemoteError",
    "RemoteProcess",
    "connect",
]
