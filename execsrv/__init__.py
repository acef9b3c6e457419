"""execsrv: a codex-compatible exec-server and its trio client.

Server: ``python -m execsrv serve`` or ``await nursery.start(execsrv.serve, url)``.
Client: ``async with execsrv.connect(url) as client: ...``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .client import (
        AuthenticationFailed,
        Client,
        ClientError,
        Closed,
        Disconnected,
        Exited,
        Failed,
        FileNotFound,
        Gap,
        HandshakeRejected,
        Output,
        ProcessEvent,
        ProcessResult,
        RemoteError,
        RemoteProcess,
        connect,
        connect_stdio,
        token_from_env,
    )
    from .server import ConfigError, ExecServer, ServerConfig, open_server, serve
    from .streams import OutputLost, ProcessStream, open_process_stream

__version__ = "0.1.0"

__all__ = [
    "AuthenticationFailed",
    "Client",
    "ClientError",
    "Closed",
    "ConfigError",
    "Disconnected",
    "ExecServer",
    "Exited",
    "Failed",
    "FileNotFound",
    "Gap",
    "HandshakeRejected",
    "Output",
    "OutputLost",
    "ProcessEvent",
    "ProcessResult",
    "ProcessStream",
    "RemoteError",
    "RemoteProcess",
    "ServerConfig",
    "__version__",
    "connect",
    "connect_stdio",
    "open_process_stream",
    "open_server",
    "serve",
    "token_from_env",
]

_SERVER_NAMES = frozenset({"ConfigError", "ExecServer", "ServerConfig", "open_server", "serve"})
_STREAM_NAMES = frozenset({"OutputLost", "ProcessStream", "open_process_stream"})


def __getattr__(name: str) -> Any:
    """Import the client and server lazily, so that ``execsrv.protocol`` (sans-IO)
    can be imported without pulling in trio."""
    if name not in __all__ or name == "__version__":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if name in _SERVER_NAMES:
        module_name = ".server"
    elif name in _STREAM_NAMES:
        module_name = ".streams"
    else:
        module_name = ".client"
    module = importlib.import_module(module_name, __name__)
    value = getattr(module, name)
    globals()[name] = value
    return value
