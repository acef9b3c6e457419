"""Structured log lines on stderr: ``time level logger message key=value ...``.

Extra fields passed with ``extra={...}`` are appended as ``key=value``.
Session ids are shortened by the callers (see ``server.session.short_id``).
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Final

__all__ = ["configure_logging"]

_STANDARD: Final = frozenset(
    logging.LogRecord("", 0, "", 0, "", None, None).__dict__.keys() | {"message", "asctime"}
)


class KeyValueFormatter(logging.Formatter):
    converter = time.gmtime  # type: ignore[assignment]

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extras = [
            f"{key}={value}" for key, value in record.__dict__.items() if key not in _STANDARD
        ]
        if extras:
            head, sep, tail = line.partition("\n")
            line = f"{head} {' '.join(extras)}{sep}{tail}"
        return line


def configure_logging(level: str) -> None:
    """Send execsrv's logs to stderr (stdout is reserved for the protocol / URL)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        KeyValueFormatter("%(asctime)s %(levelname)s %(name)s %(message)s", "%Y-%m-%dT%H:%M:%SZ")
    )
    root = logging.getLogger("execsrv")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False
