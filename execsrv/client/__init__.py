"""The trio client for execsrv and codex exec-servers."""

from .auth import TOKEN_ENV, token_from_env
from .client import Client, connect
from .errors import AuthenticationFailed, ClientError, Disconnected, HandshakeRejected, RemoteError
from .events import Closed, Exited, Failed, Gap, Output, ProcessEvent
from .fs import FileNotFound, RemoteFileSystem
from .http import HttpBodyStream, HttpResponse, HttpStreamError, RemoteHttp
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
