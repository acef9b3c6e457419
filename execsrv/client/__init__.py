"""The trio client for execsrv and codex exec-servers."""

from .client import Client, connect
from .errors import ClientError, Disconnected, RemoteError
from .events import Closed, Exited, Failed, Gap, Output, ProcessEvent
from .fs import FileNotFound, RemoteFileSystem
from .http import HttpBodyStream, HttpResponse, HttpStreamError, RemoteHttp
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
    "HttpBodyStream",
    "HttpResponse",
    "HttpStreamError",
    "Output",
    "ProcessEvent",
    "ProcessResult",
    "RemoteError",
    "RemoteFileSystem",
    "RemoteHttp",
    "RemoteProcess",
    "connect",
    "connect_stdio",
]
