"""Structured log lines on stderr, as text or as JSON (``serve --log-format``).

Text: ``time level logger message key=value ...``; extra fields passed with
``extra={...}`` are appended as ``key=value``. JSON: one object per line,
``{"ts", "level", "logger", "msg", ...extras}`` (:class:`JsonFormatter`).
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
from typing import Final, Literal, TypeAlias

import msgspec

__all__ = ["LOGGED_TEXT_CHARS", "LOG_FORMATS", "LogFormat", "clip", "configure_logging"]

LogFormat: TypeAlias = Literal["text", "json"]
LOG_FORMATS: Final[tuple[LogFormat, ...]] = ("text", "json")

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


class _BoundedTracebacks(logging.Formatter):
    converter = time.gmtime  # type: ignore[assignment]

    def formatException(self, ei: _ExcInfo) -> str:
        """A traceback whose message echoes input stays bounded: lines are clipped to
        :data:`TRACEBACK_LINE_CHARS`, and only the first :data:`TRACEBACK_LINES` are kept."""
        lines = super().formatException(ei).splitlines()
        kept = [clip(line, TRACEBACK_LINE_CHARS) for line in lines[:TRACEBACK_LINES]]
        if len(lines) > TRACEBACK_LINES:
            kept.append(f"…[{len(lines) - TRACEBACK_LINES} more lines]")
        return "\n".join(kept)


class KeyValueFormatter(_BoundedTracebacks):
    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extras = [
            f"{key}={value}" for key, value in record.__dict__.items() if key not in _STANDARD
        ]
        if extras:
            head, sep, tail = line.partition("\n")
            line = f"{head} {' '.join(extras)}{sep}{tail}"
        return line


class JsonFormatter(_BoundedTracebacks):
    """One JSON object per line: ``ts`` (UTC, milliseconds), ``level``, ``logger``,
    ``msg``, then the record's extras as fields (an extra named like one of the four
    gets a trailing ``_``), then ``exc`` (a clipped traceback) when there is one.

    JSON escapes every control character, so a value cannot forge a line; values
    are what the text format shows (callers clip and shorten them the same way).
    """

    _encoder: Final = msgspec.json.Encoder(enc_hook=str)

    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        line: dict[str, object] = {
            "ts": f"{stamp}.{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD:
                line[f"{key}_" if key in line else key] = value
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return self._encoder.encode(line).decode()


def configure_logging(level: str, log_format: LogFormat = "text") -> None:
    """Send execsrv's logs to stderr (stdout is reserved for the protocol / URL),
    as ``key=value`` text or as one JSON object per line."""
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            KeyValueFormatter(
                "%(asctime)s %(levelname)s %(name)s %(message)s", "%Y-%m-%dT%H:%M:%SZ"
            )
        )
    root = logging.getLogger("execsrv")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False
