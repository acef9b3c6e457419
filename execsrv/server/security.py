"""Secure defaults: the websocket handshake policy and the listen rule (DESIGN.md §5).

Every check here runs on the HTTP upgrade request, before the websocket is
accepted and before any JSON-RPC: a refused peer gets a plain HTTP answer
(401, 403) and never reaches a session.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from .config import ServerConfig

__all__ = [
    "ConfigError",
    "HandshakePolicy",
    "Rejection",
    "is_loopback",
    "load_auth_token",
    "normalize_origin",
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

    @property
    def headers(self) -> list[tuple[bytes, bytes]]:
        headers = [(b"Content-Type", b"text/plain; charset=utf-8")]
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
