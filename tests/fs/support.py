"""Helpers for the fs tests that speak to a real execsrv on the wire."""

from __future__ import annotations

import os
from urllib.parse import quote

__all__ = ["uri"]


def uri(path: str | bytes, host: str = "") -> str:
    """``path`` as a ``file:`` URI, built with :func:`urllib.parse.quote` (not with
    execsrv's own formatter)."""
    return f"file://{host}{quote(os.fsencode(path))}"
