"""The JSON-RPC envelope as the reference speaks it (sans-IO).

The reference's message type is an *untagged* union tried in the order
Request, Notification, Response, Error, with no ``"jsonrpc"`` member on the
way out and any incoming ``"jsonrpc"`` ignored. :func:`classify` reproduces
that order exactly, including its surprises: a request whose ``id`` is a
float, ``null`` or beyond i64 is read as a *notification*.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any, Final

import msgspec
from msgspec import UNSET, Raw, UnsetType

from .errors import INVALID_REQUEST
from .json_numbers import I64_MAX, I64_MIN, NUMBER_OUT_OF_RANGE, is_beyond_f64

__all__ = [
    "NOT_AN_OBJECT_0171",
    "REQUEST_ID_MISMATCH",
    "ErrorObject",
    "ErrorResponse",
    "IncomingError",
    "IncomingNotification",
    "IncomingRequest",
    "IncomingResponse",
    "MalformedMessage",
    "Message",
    "Notification",
    "Request",
    "RequestId",
    "Response",
    "SplitMessage",
    "classify",
    "decode_message",
    "encode_message",
]

RequestId = int | str
"""An i64 integer or a string, echoed back verbatim."""

PARSE_ERROR_ID: Final = -1
"""The id the reference puts on its reply to a message it could not parse."""

_NO_VARIANT: Final = "data did not match any variant of untagged enum JSONRPCMessage"
REQUEST_ID_MISMATCH: Final = "data did not match any variant of untagged enum RequestId"
"""codex 0.171's parse error for a request whose ``id`` is no RequestId (null, a float)."""
_MSGSPEC_OUT_OF_RANGE: Final = ("Number out of range", "Integer value out of range")

# The fields of each variant's Rust struct; unknown members are ignored by all.
_REQUEST_MEMBERS: Final = frozenset({"id", "method", "params", "trace"})
_NOTIFICATION_MEMBERS: Final = frozenset({"method", "params"})
_RESPONSE_MEMBERS: Final = frozenset({"id", "result"})
_ERROR_MEMBERS: Final = frozenset({"error", "id"})
_ENVELOPE_MEMBERS: Final = _REQUEST_MEMBERS | _RESPONSE_MEMBERS | _ERROR_MEMBERS
_MEMBER_NAME_TEXT: Final = re.compile(f'"({"|".join(sorted(_ENVELOPE_MEMBERS))})"')
_MEMBER_NAME_BYTES: Final = re.compile(_MEMBER_NAME_TEXT.pattern.encode())


class ErrorObject(msgspec.Struct, omit_defaults=True):
    """``{"code", "message"}``; ``data`` is omitted, never null."""

    code: int
    message: str
    data: Any = UNSET


# Outgoing envelopes: member order follows the reference's output.
class Request(msgspec.Struct, omit_defaults=True):
    id: RequestId
    method: str
    params: Any = UNSET


class Notification(msgspec.Struct, omit_defaults=True):
    method: str
    params: Any = UNSET


class Response(msgspec.Struct):
    id: RequestId
    result: Any


class ErrorResponse(msgspec.Struct):
    error: ErrorObject
    id: RequestId


class _Envelope(msgspec.Struct):
    """Lenient decode target: every member optional, params kept raw."""

    id: Any = UNSET
    method: Any = UNSET
    params: Raw | UnsetType = UNSET
    result: Raw | UnsetType = UNSET
    error: Any = UNSET
    trace: Raw | UnsetType = UNSET


LARGE_RESULT_BYTES: Final = 1 << 20
"""A pre-encoded result this large is sent in place (:func:`encode_message`)."""

Buffer = bytes | bytearray | memoryview


@dataclass(frozen=True, slots=True)
class SplitMessage:
    """One encoded message in parts, to be sent one after another as one frame or
    line: a large pre-encoded result goes out from where it is, never copied."""

    parts: tuple[Buffer, ...]

    def __len__(self) -> int:
        return sum(len(part) for part in self.parts)


_outgoing_encoder: Final = msgspec.json.Encoder()


def encode_message(message: object) -> bytes | SplitMessage:
    """The JSON of an outgoing message. A :class:`Response` whose ``result`` is a
    :class:`msgspec.Raw` of :data:`LARGE_RESULT_BYTES` or more comes back split
    around it, sharing its buffer."""
    if isinstance(message, Response) and isinstance(message.result, Raw):
        result = message.result
        if len(result) >= LARGE_RESULT_BYTES:
            head = b'{"id":' + _outgoing_encoder.encode(message.id) + b',"result":'
            return SplitMessage((head, memoryview(result), b"}"))
    return _outgoing_encoder.encode(message)


@dataclass(frozen=True, slots=True)
class IncomingRequest:
    id: RequestId
    method: str
    params: Raw | None  # None: absent or JSON null
    trace: Raw | None = None
    """The ``trace`` member undecoded (None: absent); only a server that traces reads
    it, with :func:`execsrv.protocol.trace.parse_trace`."""


@dataclass(frozen=True, slots=True)
class IncomingNotification:
    method: str
    params: Raw | None
    invalid_id: bool = False
    """It has an ``id`` that is no RequestId (null, a float, a bool, beyond i64): codex
    0.130 reads that as a notification, 0.171 as a parse error
    (:data:`REQUEST_ID_MISMATCH`)."""


@dataclass(frozen=True, slots=True)
class IncomingResponse:
    id: RequestId
    result: Raw


@dataclass(frozen=True, slots=True)
class IncomingError:
    id: RequestId
    error: ErrorObject


@dataclass(frozen=True, slots=True)
class MalformedMessage:
    """A frame that is not JSON or matches no envelope; ``detail`` says why."""

    detail: str
    detail_0171: str | None = None
    """codex 0.171's text where it differs (codex-exec-server-0.171.md §2.1), for a
    session that has spoken 0.171; a frame says no generation on its own."""


NOT_AN_OBJECT_0171: Final = "expected a JSON-RPC object"
"""0.171's text for a frame that is JSON but no object (a batch, a string, null)."""


def _mismatch(envelope: _Envelope) -> MalformedMessage:
    """An object that fits no envelope: 0.130 has one text; 0.171 names the method's
    type, else the ``error`` it reads a message without ``method`` as (measured)."""
    detail_0171: str | None = None
    if not isinstance(envelope.method, UnsetType | str):
        number = isinstance(envelope.method, int | float) and not isinstance(envelope.method, bool)
        found = "number" if number else _json_kind(envelope.method)
        detail_0171 = f"invalid type: {found}, expected a string"
    elif isinstance(envelope.method, UnsetType) and isinstance(envelope.error, UnsetType):
        detail_0171 = "missing field `error`"
    return MalformedMessage(_NO_VARIANT, detail_0171)


def _json_kind(value: object) -> str:
    """serde's name for a JSON value other than a number."""
    match value:
        case None:
            return "null"
        case bool():
            return f"boolean `{str(value).lower()}`"
        case str():
            return f'string "{value}"'
        case list():
            return "sequence"
    return "map"


Message = IncomingRequest | IncomingNotification | IncomingResponse | IncomingError
_envelope_decoder: Final = msgspec.json.Decoder(_Envelope)
_NULL: Final = b"null"


def _valid_id(value: object) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return I64_MIN <= value <= I64_MAX
    return isinstance(value, str)


def _params(raw: Raw | UnsetType) -> Raw | None:
    if isinstance(raw, UnsetType) or bytes(raw) == _NULL:
        return None
    return raw


def _object_keys(pairs: list[tuple[str, object]]) -> list[str]:
    return [key for key, _ in pairs]


def _ignore(_text: str) -> None:
    return None


def _repeated_members(frame: bytes | str) -> frozenset[str]:
    """The envelope members that ``frame`` (a JSON object) gives more than once.

    msgspec keeps the last value of a repeated key. A cheap scan comes first: only
    a frame that names a member twice anywhere (or has a ``\\u`` escape, which
    could spell one) is read again with :mod:`json`, which sees the repeats.
    """
    if isinstance(frame, str):
        names: list[str] | list[bytes] = _MEMBER_NAME_TEXT.findall(frame)
        escaped = "\\" in frame and "\\u" in frame  # a lone "\\" is the fast search
    else:
        names = _MEMBER_NAME_BYTES.findall(frame)
        escaped = b"\\" in frame and b"\\u" in frame
    if not escaped and len(names) == len(set(names)):
        return frozenset()
    # The last object the hook sees is the top level; numbers stay unconverted.
    keys = json.loads(frame, object_pairs_hook=_object_keys, parse_int=_ignore, parse_float=_ignore)
    return frozenset(k for k, n in Counter(keys).items() if n > 1 and k in _ENVELOPE_MEMBERS)


def classify(
    envelope: _Envelope, repeated: frozenset[str] = frozenset()
) -> Message | MalformedMessage:
    """Pick the first envelope variant the message fits, as the reference does.

    ``repeated`` names the members the message gives more than once: serde
    rejects a repeated field, so a variant that declares one does not fit.
    """
    id_ok = _valid_id(envelope.id)
    method_ok = isinstance(envelope.method, str)
    if id_ok and method_ok and repeated.isdisjoint(_REQUEST_MEMBERS):
        return IncomingRequest(
            envelope.id, envelope.method, _params(envelope.params), _params(envelope.trace)
        )
    if method_ok and repeated.isdisjoint(_NOTIFICATION_MEMBERS):
        invalid_id = not id_ok and not isinstance(envelope.id, UnsetType)
        return IncomingNotification(envelope.method, _params(envelope.params), invalid_id)
    if (
        id_ok
        and not isinstance(envelope.result, UnsetType)
        and repeated.isdisjoint(_RESPONSE_MEMBERS)
    ):
        return IncomingResponse(envelope.id, envelope.result)
    if id_ok and not isinstance(envelope.error, UnsetType) and repeated.isdisjoint(_ERROR_MEMBERS):
        try:
            error = msgspec.convert(envelope.error, ErrorObject)
        except msgspec.ValidationError:
            return MalformedMessage(_NO_VARIANT)
        return IncomingError(envelope.id, error)
    return MalformedMessage(_NO_VARIANT) if repeated else _mismatch(envelope)


def decode_message(frame: bytes | str) -> Message | MalformedMessage:
    """Decode one frame (a websocket message or one stdio line).

    Never raises for bad input: syntax errors and shape mismatches come back as
    :class:`MalformedMessage`, which the server answers with ``-32600`` and id
    ``-1`` while keeping the connection open.
    """
    try:
        envelope = _envelope_decoder.decode(frame)
    except msgspec.ValidationError as error:
        # Not an object, or a number beyond f64 (1e400) in a member msgspec reads.
        if str(error).startswith(_MSGSPEC_OUT_OF_RANGE):
            return MalformedMessage(NUMBER_OUT_OF_RANGE)
        return MalformedMessage(_NO_VARIANT, NOT_AN_OBJECT_0171)
    except msgspec.DecodeError as error:
        return MalformedMessage(str(error))
    except UnicodeError as error:  # invalid UTF-8 in a string, or a str with lone surrogates
        return MalformedMessage(str(error))
    except RecursionError:  # nesting deeper than the interpreter's stack allows
        return MalformedMessage("recursion limit exceeded")
    if not isinstance(frame, str) and not frame.isascii():
        # msgspec does not validate the UTF-8 of values it keeps as Raw (params,
        # result); the reference rejects the whole message, so do we.
        try:
            bytes(frame).decode()
        except UnicodeDecodeError as error:
            return MalformedMessage(f"invalid unicode code point (byte {error.start})")
    if isinstance(envelope.id, int) and is_beyond_f64(envelope.id):
        return MalformedMessage(NUMBER_OUT_OF_RANGE)  # msgspec reads it; serde_json cannot
    try:
        repeated = _repeated_members(frame)
    except RecursionError:
        return MalformedMessage("recursion limit exceeded")
    return classify(envelope, repeated)


def parse_error(detail: str, source: str) -> ErrorResponse:
    """The reply to a malformed frame; ``source`` names the transport and peer."""
    message = f"failed to parse {source}: {detail}"
    return ErrorResponse(
        error=ErrorObject(code=INVALID_REQUEST, message=message), id=PARSE_ERROR_ID
    )
