"""The exec-server: sessions, connections, dispatch and listeners."""

from .config import ServerConfig
from .security import ConfigError
from .server import ExecServer, open_server, parse_listen, serve

__all__ = ["ConfigError", "ExecServer", "ServerConfig", "open_server", "parse_listen", "serve"]
