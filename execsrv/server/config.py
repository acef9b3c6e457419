"""Server configuration: one typed object whose fields map 1:1 to CLI flags."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ServerConfig"]


@dataclass(frozen=True)
class ServerConfig:
    """Every knob of the server, with the CLI flag that sets it.

    Durations are seconds (floats) and sizes are bytes.
    """

    listen: str = "ws://127.0.0.1:0"
    """``--listen``: ``ws://IP:PORT`` or ``stdio``."""
    session_ttl: float = 30.0
    """``--session-ttl``: how long a detached session waits for a resume."""
    retention_bytes: int = 1 << 20
    """``--retention-bytes``: retained output per process."""
    reader_timeout: float = 2.0
    """``--reader-timeout``: once a client reads a process with ``process/read``, output
    it has not read is not evicted: the child is held back instead. Past this long
    without a read while the child is held, eviction resumes until the next read."""
    exited_retention: float = 30.0
    """``--exited-retention``: how long a closed process stays readable."""
    exited_retention_bytes: int = 64 << 20
    """``--exited-retention-bytes``: output kept by closed processes, server-wide; past
    it the output of the processes closed longest ago is evicted first."""
    max_message_bytes: int = 16 << 20
    """``--max-message-bytes``: largest inbound message; a larger one closes a websocket
    (1009) and, over stdio, is answered with a parse error and skipped."""
    kill_grace: float = 2.0
    """``--kill-grace``: SIGTERM → SIGKILL grace for timeouts, session expiry and an
    immediate shutdown (the server's scope cancelled, or a second signal)."""
    shutdown_grace: float = 5.0
    """``--shutdown-grace``: on shutdown, after the listeners close, how long requests
    in flight have to be answered and children to exit on SIGTERM; then whatever is
    left is cancelled and SIGKILLed."""
    ping_interval: float = 15.0
    """``--ping-interval``: websocket keepalive ping period; 0 disables pings."""
    pong_timeout: float = 15.0
    """``--pong-timeout``: a peer that has not answered a ping by then is disconnected."""
    log_level: str = "info"
    """``--log-level``: debug, info, warning or error."""
    log_format: str = "text"
    """``--log-format``: ``text`` (``time level logger message key=value ...``) or
    ``json`` (one object per line on stderr)."""
    max_http_body_bytes: int = 512 << 20
    """``--max-http-body-bytes``: largest buffered ``http/request`` response body; streamed
    bodies are passed on as they arrive and are not limited."""
    max_reply_bytes_in_flight: int = 1 << 30
    """``--max-reply-bytes-in-flight``: bytes that large ``fs/readFile`` results and
    buffered ``http/request`` bodies (1 MiB or more as base64) may hold at once,
    server-wide; more wait their turn. One larger than this goes alone."""
    http_ca_file: str | None = None
    """``--http-ca-file``: PEM file of CA certificates ``http/request`` trusts for https,
    besides the system store (which ``SSL_CERT_FILE``/``SSL_CERT_DIR`` can replace)."""
    auth_token_file: str | None = None
    """``--auth-token-file``: file holding the bearer token websocket clients must send
    (read once at startup); None: no token is asked for."""
    insecure_no_auth: bool = False
    """``--insecure-no-auth``: allow a non-loopback ``listen`` without a token."""
    allow_origin: tuple[str, ...] = ()
    """``--allow-origin`` (repeatable): browser origins (``scheme://host[:port]``, or
    ``*`` for any) allowed to connect; a handshake with any other ``Origin`` gets 403."""
    max_connections: int = 1024
    """``--max-connections``: websocket connections at once; beyond it, HTTP 503. Lowered
    at startup if the descriptor limit cannot hold it (see ``security.ConnectionLimits``)."""
    handshake_timeout: float = 10.0
    """``--handshake-timeout``: seconds a new connection has to send its complete
    upgrade request; then it is closed."""
    max_pending_handshakes: int = 128
    """``--max-pending-handshakes``: connections still sending their upgrade request;
    one more closes the oldest. Lowered at startup like ``max_connections``."""
    max_sessions: int = 1024
    """``--max-sessions``: live sessions (attached or detached within their TTL)."""
    max_processes_per_session: int = 1024
    """``--max-processes-per-session``: running (not yet closed) processes per session."""
    drain_timeout: float = 0.0
    """``--drain-timeout``: on the first SIGTERM/SIGINT, how long running processes get
    to finish while new sessions and process starts are refused and ``/readyz`` is 503
    (see ``server.drain``); then the shutdown (``shutdown_grace``). 0: no drain."""
    metrics: bool = False
    """``--metrics``: serve Prometheus metrics at ``GET /metrics`` on the websocket port
    (behind the token when one is configured); needs the ``metrics`` extra."""
