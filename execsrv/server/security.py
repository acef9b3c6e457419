"""Secure defaults: the websocket handshake policy and the listen rule (DESIGN.md §5).

Every check here runs on the HTTP upgrade request, before the websocket is
accepted and before any JSON-RPC: a refused peer gets a plain HTTP answer
(400, 401, 403, 503) and never reaches a session. Peers that never finish
their request are bounded in time and number, within the descriptor limit.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
import re
import resource
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

import trio

from .config import ServerConfig

__all__ = [
    "FD_RESERVE",
    "ConfigError",
    "ConnectionLimits",
    "HandshakePolicy",
    "PendingHandshakes",
    "Rejection",
    "is_loopback",
    "load_auth_token",
    "normalize_origin",
    "raise_fd_limit",
    "require_auth_off_loopback",
]

log = logging.getLogger("execsrv.server")

ANY_ORIGIN: Final = "*"

SHORT_TOKEN_CHARS: Final = 16
"""Tokens shorter than this are accepted with a warning in the log."""

_ORIGIN: Final = re.compile(r"[a-z][a-z0-9+.-]*://[^/?#\s@]+")
_TOKEN: Final = re.compile(r"[\x21-\x7e]+")  # visible ASCII: it must fit in an HTTP header


class ConfigError(ValueError):
    """A configuration the server refuses to start with; the message says how to fix it."""


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8 and ::1 (also as an IPv4-mapped address)."""
    address = ipaddress.ip_address(host)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def require_auth_off_loopback(host: str, port: int, config: ServerConfig) -> None:
    """Refuse to listen beyond loopback without a token, unless told to be insecure."""
    if is_loopback(host) or config.auth_token_file is not None or config.insecure_no_auth:
        return
    shown = f"[{host}]" if ":" in host else host
    raise ConfigError(
        f"refusing to listen on ws://{shown}:{port} without authentication: it is not a "
        "loopback address, so anyone who can reach it could run commands. Pass "
        "--auth-token-file FILE (clients then send `Authorization: Bearer <token>`), or "
        "--insecure-no-auth to accept unauthenticated connections anyway"
    )


def load_auth_token(path: str) -> str:
    """The token in ``path``, surrounding whitespace stripped; ConfigError if unusable."""
    try:
        with open(path, "rb") as file:
            mode = os.fstat(file.fileno()).st_mode
            raw = file.read()
    except OSError as error:
        raise ConfigError(
            f"cannot read --auth-token-file {path}: {error.strerror or error}"
        ) from None
    try:
        token = raw.decode("ascii").strip()
    except UnicodeDecodeError:
        raise ConfigError(f"--auth-token-file {path} must hold ASCII text (one token)") from None
    if not token:
        raise ConfigError(f"--auth-token-file {path} is empty: put a token in it")
    if not _TOKEN.fullmatch(token):
        raise ConfigError(
            f"--auth-token-file {path} must hold one token of printable ASCII characters "
            "without spaces (it is sent in an HTTP header)"
        )
    if mode & 0o077:
        log.warning(
            "auth token file is readable by other users; chmod 600 it",
            extra={"path": path, "mode": f"{mode & 0o777:o}"},
        )
    if len(token) < SHORT_TOKEN_CHARS:
        log.warning(
            "auth token is short; use at least 32 random characters",
            extra={"chars": len(token)},
        )
    return token


def normalize_origin(text: str) -> str:
    """An ``--allow-origin`` value: ``*`` or ``scheme://host[:port]`` (compared lowercased).

    ValueError for anything else (a path, a query, a bare host name).
    """
    value = text.strip().lower()
    if value == ANY_ORIGIN:
        return value
    value = value.removesuffix("/")
    if not _ORIGIN.fullmatch(value):
        raise ValueError(
            f"invalid origin `{text}`; expected `scheme://host[:port]` "
            "(e.g. `https://app.example.com`) or `*`"
        )
    return value


@dataclass(frozen=True)
class Rejection:
    """An HTTP answer that refuses a websocket handshake."""

    status: int
    message: str
    """Short text for the body and the log; never contains the offered credentials."""
    challenge: str | None = None
    """``WWW-Authenticate`` value, for 401."""
    extra_headers: tuple[tuple[bytes, bytes], ...] = ()

    @property
    def headers(self) -> list[tuple[bytes, bytes]]:
        headers = [(b"Content-Type", b"text/plain; charset=utf-8"), *self.extra_headers]
        if self.challenge is not None:
            headers.append((b"WWW-Authenticate", self.challenge.encode()))
        return headers

    @property
    def body(self) -> bytes:
        return f"{self.message}\n".encode()


MISSING_TOKEN: Final = Rejection(
    401,
    "authentication required: send `Authorization: Bearer <token>`",
    'Bearer realm="execsrv"',
)
WRONG_TOKEN: Final = Rejection(
    401, "invalid bearer token", 'Bearer realm="execsrv", error="invalid_token"'
)
ORIGIN_REFUSED: Final = Rejection(
    403, "origin not allowed: browsers may connect only from an origin given with --allow-origin"
)


class HandshakePolicy:
    """Who may open a websocket: checks ``Origin`` (403) then the bearer token (401)."""

    def __init__(self, *, token: str | None = None, allowed_origins: Iterable[str] = ()) -> None:
        self._token = None if token is None else token.encode("ascii")
        origins = {normalize_origin(origin) for origin in allowed_origins}
        self._any_origin = ANY_ORIGIN in origins
        self._origins = frozenset(origins - {ANY_ORIGIN})

    @classmethod
    def from_config(cls, config: ServerConfig) -> HandshakePolicy:
        """Read the token file (once) and parse the origins; ConfigError if unusable."""
        token = None if config.auth_token_file is None else load_auth_token(config.auth_token_file)
        try:
            return cls(token=token, allowed_origins=config.allow_origin)
        except ValueError as error:
            raise ConfigError(f"--allow-origin: {error}") from None

    @property
    def requires_token(self) -> bool:
        return self._token is not None

    def check(self, headers: Iterable[tuple[bytes, bytes]]) -> Rejection | None:
        """None if the upgrade request may proceed, else how to refuse it."""
        origins: list[bytes] = []
        authorizations: list[bytes] = []
        for name, value in headers:
            lowered = name.lower()
            if lowered == b"origin":
                origins.append(value)
            elif lowered == b"authorization":
                authorizations.append(value)
        if origins and not self._origin_allowed(origins):
            return ORIGIN_REFUSED
        if self._token is None:
            return None
        if len(authorizations) != 1:
            return MISSING_TOKEN if not authorizations else WRONG_TOKEN
        scheme, _, credentials = authorizations[0].strip().partition(b" ")
        credentials = credentials.strip()
        if scheme.lower() != b"bearer" or not credentials:
            return MISSING_TOKEN
        if not hmac.compare_digest(credentials, self._token):
            return WRONG_TOKEN
        return None

    def _origin_allowed(self, origins: list[bytes]) -> bool:
        if self._any_origin:
            return True
        if len(origins) != 1:
            return False
        origin = origins[0].decode("latin-1").strip().lower()
        return origin in self._origins


# -- descriptors ----------------------------------------------------------------------

FD_RESERVE: Final = 64
"""Descriptors kept out of the connection limits: listeners, logs, children's pipes,
files and sockets that requests open."""


def raise_fd_limit() -> int | None:
    """Raise the soft ``RLIMIT_NOFILE`` to the hard one; the soft limit now (None: unlimited).

    A soft limit below the hard one (often 1024) only makes the server run out early.
    If the system refuses (macOS caps the soft limit), the old one stays.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            pass
    return None if soft == resource.RLIM_INFINITY else soft


@dataclass(frozen=True)
class ConnectionLimits:
    """How many websocket connections and pending handshakes the descriptors allow."""

    max_connections: int
    max_pending_handshakes: int

    @classmethod
    def fit(cls, config: ServerConfig, fd_limit: int | None) -> ConnectionLimits:
        """The configured limits, lowered so that they leave :data:`FD_RESERVE` free.

        Pending handshakes get at most a quarter of the rest, connections the others.
        """
        if fd_limit is None:
            return cls(config.max_connections, config.max_pending_handshakes)
        budget = fd_limit - FD_RESERVE
        pending = max(1, min(config.max_pending_handshakes, budget // 4))
        return cls(max(1, min(config.max_connections, budget - pending)), pending)


class PendingHandshakes:
    """New connections whose upgrade request is not answered yet: at most ``limit``.

    Each one runs in the cancel scope :meth:`admit` returns, which ends it at the
    handshake deadline. Admitting one more at the limit cancels the oldest: a flood
    of idle or trickling peers holds at most ``limit`` descriptors, and a client that
    sends its request at once still gets in. The flood is logged once, not per peer.
    """

    def __init__(self, limit: int, timeout: float) -> None:
        self.limit = limit
        self.timeout = timeout
        """Seconds a connection has to complete its upgrade request."""
        self._scopes: dict[trio.CancelScope, None] = {}  # oldest first
        self._evicted = 0

    def __len__(self) -> int:
        return len(self._scopes)

    def admit(self) -> trio.CancelScope:
        """The scope to run a new connection's handshake in; call :meth:`release` after."""
        if len(self._scopes) >= self.limit:
            oldest = next(iter(self._scopes))
            del self._scopes[oldest]
            oldest.cancel()
            if not self._evicted:
                log.warning(
                    "pending handshakes at the limit: closing the oldest to admit new connections",
                    extra={"limit": self.limit},
                )
            self._evicted += 1
        scope = trio.CancelScope(deadline=trio.current_time() + self.timeout)
        self._scopes[scope] = None
        return scope

    def cancel_all(self) -> None:
        """End every pending handshake now (server shutdown)."""
        for scope in self._scopes:
            scope.cancel()

    def release(self, scope: trio.CancelScope) -> None:
        """The handshake in ``scope`` is over (answered, refused, closed or evicted)."""
        self._scopes.pop(scope, None)
        if not self._scopes and self._evicted:
            log.info("pending handshakes drained", extra={"closed_early": self._evicted})
            self._evicted = 0
