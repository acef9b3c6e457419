"""Structured log lines on stderr: ``time level logger message key=value ...``.

Extra fields passed with ``extra={...}`` are appended as ``key=value``.
Session ids are shortened by the callers (see ``server.session.short_id``).
Every value a peer controls (``clientName``, headers, paths, method names, close
reasons, error texts that echo input) goes through :func:`clip` before it reaches
a log call, so one request can add at most :data:`LOGGED_TEXT_CHARS` characters
per value to the log.
"""

from __future__ import annotations

import logging
import sys
import time
from types import TracebackType
from typing import Final, TypeAlias

__all__ = ["LOGGED_TEXT_CHARS", "clip", "configure_logging"]

_ExcInfo: TypeAlias = (
    tuple[type[BaseException], BaseException, TracebackType | None] | tuple[None, None, None]
)

LOGGED_TEXT_CHARS: Final = 200
"""Longest peer-controlled value a log line carries; the rest is replaced by a marker."""

TRACEBACK_LINE_CHARS: Final = 1000
TRACEBACK_LINES: Final = 500
"""Tracebacks (``log.exception``) may quote an exception text that echoes input."""

_STANDARD: Final = frozenset(
    logging.LogRecord("", 0, "", 0, "", None, None).__dict__.keys() | {"message", "asctime"}
)


def clip(value: object, limit: int = LOGGED_TEXT_CHARS) -> str:
    """``value`` as log text: at most ``limit`` characters, then ``…[N chars]`` (or
    ``…[N bytes]``) giving the full size when it was longer.

    Control and other non-printable characters are escaped (``\\n``, ``\\x1b``), so
    a value cannot forge log lines. Costs O(``limit``) for ``str`` and ``bytes``.
    """
    if isinstance(value, bytes):
        size, unit = len(value), "bytes"
        head = value[:limit].decode("utf-8", "backslashreplace")
    else:
        text = value if isinstance(value, str) else str(value)
        size, unit = len(text), "chars"
        head = text[:limit]
    if not head.isprintable():
        head = "".join(char if char.isprintable() else repr(char)[1:-1] for char in head)
    if size <= limit and len(head) <= limit:
        return head
    return f"{head[:limit]}…[{size} {unit}]"


class KeyValueFormatter(logging.Formatter):
    converter = time.gmtime  # type: ignore[assignment]

    def formatException(self, ei: _ExcInfo) -> str:
        """A traceback whose message echoes input stays bounded: lines are clipped to
        :data:`TRACEBACK_LINE_CHARS`, and only the first :data:`TRACEBACK_LINES` are kept."""
        lines = super().formatException(ei).splitlines()
        kept = [clip(line, TRACEBACK_LINE_CHARS) for line in lines[:TRACEBACK_LINES]]
        if len(lines) > TRACEBACK_LINES:
            kept.append(f"…[{len(lines) - TRACEBACK_LINES} more lines]")
        return "\n".join(kept)

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
