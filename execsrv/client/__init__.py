"""The trio client for execsrv and codex exec-servers."""

from .auth import TOKEN_ENV, token_from_env
from .client import Client, connect
from .errors import (
    AuthenticationFailed,
    ClientError,
    Disconnected,
    FileNotFound,
    HandshakeRejected,
    RemoteError,
)
from .events import Closed, Exited, Failed, Gap, Output, ProcessEvent
from .fs import RemoteFileSystem
from .http import HttpResponse, RemoteHttp
from .http_body import HttpBodyStream, HttpStreamError
from .process import ProcessResult, RemoteProcess
from .stdio import connect_stdio

__all__ = [
    "TOKEN_ENV",
    "AuthenticationFailed",
    "Client",
    "ClientError",
    "Closed",
    "Disconnected",
    "Exited",
    "Failed",
    "FileNotFound",
    "Gap",
    "HandshakeRejected",
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
    "token_from_env",
]
