"""Client-side credentials: the bearer token sent on the websocket handshake."""

from __future__ import annotations

import os
import re
from typing import Final

__all__ = ["TOKEN_ENV", "authorization_header", "token_from_env"]

TOKEN_ENV: Final = "EXECSRV_TOKEN"
"""The environment variable the command-line clients read the token from."""

_TOKEN: Final = re.compile(r"[\x21-\x7e]+")


def token_from_env(name: str = TOKEN_ENV) -> str | None:
    """The token in ``$EXECSRV_TOKEN`` (surrounding whitespace stripped), or None if
    unset or blank. Pass it on: ``execsrv.connect(url, token=token_from_env())``."""
    value = os.environ.get(name, "").strip()
    return value or None


def authorization_header(token: str) -> tuple[bytes, bytes]:
    """``Authorization: Bearer <token>``; ValueError for a token no header can carry."""
    token = token.strip()
    if not _TOKEN.fullmatch(token):
        raise ValueError("token must be printable ASCII without spaces")
    return (b"Authorization", f"Bearer {token}".encode("ascii"))
