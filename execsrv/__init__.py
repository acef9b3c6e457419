"""execsrv: a codex-compatible exec-server and its trio client.

Server: ``python -m execsrv serve`` or ``await nursery.start(execsrv.serve, url)``.
Client: ``async with execsrv.connect(url) as client: ...``.
"""

from .client import (
    Client,
    ClientError,
    Closed,
    Disconnected,
    Exited,
    Failed,
    Gap,
    Output,
    ProcessEvent,
    ProcessResult,
    RemoteError,
    RemoteProcess,
    connect,
)
from .server import ExecServer, ServerConfig, open_server, serve

__version__ = "0.1.0"

__all__ = [
    "Client",
    "ClientError",
    "Closed",
    "Disconnected",
    "ExecServer",
    "Exited",
    "Failed",
    "Gap",
    "Output",
    "ProcessEvent",
    "ProcessResult",
    "RemoteError",
    "RemoteProcess",
    "ServerConfig",
    "__version__",
    "connect",
    "open_server",
    "serve",
]
