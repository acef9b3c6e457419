"""The trio client for execsrv and codex exec-servers."""

from .client import Client, connect
from .errors import ClientError, Disconnected, RemoteError
from .events import Closed, Exited, Failed, Gap, Output, ProcessEvent
from .fs import FileNotFound, RemoteFileSystem
from .process import ProcessResult, RemoteProcess
from .stdio import connect_stdio

__all__ = [
    "Client",
    "ClientError",
    "Closed",
    "Disconnected",
    "Exited",
    "Failed",
    "FileNotFound",
    "Gap",
    "Output",
    "ProcessEvent",
    "ProcessResult",
    "RemoteError",
    "RemoteFileSystem",
    "RemoteProcess",
    "connect",
    "connect_stdio",
]
