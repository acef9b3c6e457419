"""codex's ``trace`` request member: a W3C trace-context carrier (sans-IO).

A request may carry ``"trace": {"traceparent": "00-<trace-id>-<span-id>-<flags>",
"tracestate": "vendor=value,..."}`` (codex's ``W3cTraceContext``, both members
optional). It never changes an answer: it only parents the server's spans
(:mod:`execsrv.server.tracing`). So it is read leniently: a ``traceparent`` string
that is no valid W3C one is dropped, as codex (0.130 and 0.171, measured) does. A
carrier of the wrong shape (not an object, a member that is not a string), which
codex refuses as a message (0.130 closes the connection, 0.171 answers a parse
error), execsrv has always accepted; its carrier is dropped too, never an error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

import msgspec
from msgspec import UNSET, UnsetType

__all__ = ["MAX_TRACESTATE_CHARS", "TraceContext", "parse_trace"]

_TRACEPARENT: Final = re.compile(
    r"(?P<version>[0-9a-f]{2})-(?P<trace_id>[0-9a-f]{32})-(?P<span_id>[0-9a-f]{16})"
    r"-(?P<flags>[0-9a-f]{2})(?P<rest>-.*)?",
    re.ASCII | re.DOTALL,
)
_ZERO_TRACE_ID: Final = "0" * 32
_ZERO_SPAN_ID: Final = "0" * 16

MAX_TRACESTATE_CHARS: Final = 512
"""W3C lets a receiver drop a longer ``tracestate``; execsrv does."""


@dataclass(frozen=True, slots=True)
class TraceContext:
    """A valid ``traceparent`` (lowercase hex, as the W3C format requires) and the
    ``tracestate`` that came with it, if any (opaque: passed on as it is)."""

    traceparent: str
    tracestate: str | None = None


class _Carrier(msgspec.Struct):
    traceparent: msgspec.Raw | UnsetType = UNSET
    tracestate: msgspec.Raw | UnsetType = UNSET


_carrier_decoder: Final = msgspec.json.Decoder(_Carrier)
_text_decoder: Final = msgspec.json.Decoder(str)


def _text(raw: msgspec.Raw | UnsetType) -> str | None:
    """A member's string, or None (absent, or not a string)."""
    if isinstance(raw, UnsetType):
        return None
    try:
        return _text_decoder.decode(raw)
    except msgspec.DecodeError:
        return None


def parse_trace(carrier: bytes | str | msgspec.Raw | None) -> TraceContext | None:
    """The trace context the JSON ``carrier`` (the raw ``trace`` member) holds, or None.

    W3C rules: version ``ff`` is invalid; version ``00`` has exactly four fields; a
    later version may append fields after a dash; all-zero trace and span ids are
    invalid.
    """
    if carrier is None:
        return None
    try:
        decoded = _carrier_decoder.decode(carrier)
    except (msgspec.DecodeError, RecursionError):  # not an object, or a value msgspec refuses
        return None
    traceparent = _text(decoded.traceparent)
    if traceparent is None:
        return None
    match = _TRACEPARENT.fullmatch(traceparent)
    if match is None or match["version"] == "ff":
        return None
    if match["version"] == "00" and match["rest"] is not None:
        return None
    if match["trace_id"] == _ZERO_TRACE_ID or match["span_id"] == _ZERO_SPAN_ID:
        return None
    tracestate = _text(decoded.tracestate)
    if tracestate is not None and len(tracestate) > MAX_TRACESTATE_CHARS:
        tracestate = None
    return TraceContext(traceparent, tracestate)
