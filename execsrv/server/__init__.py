"""The exec-server: sessions, connections, dispatch and listeners."""

from .config import ServerConfig
from .server import ExecServer, open_server, parse_listen, serve

__all__ = ["ExecServer", "ServerConfig", "open_server", "parse_listen", "serve"]
