"""execsrv's wire protocol, sans-IO: msgspec types, the envelope, error codes.

This package imports no trio; it can be used and tested on its own. The
method table in :mod:`.methods` is the single source for dispatch, client
decoding and the generated tables in ``protocol.md``.
"""

from . import process, session
from .errors import (
    INTERNAL_ERROR,
    INVALID_PARAMS,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    NOT_FOUND,
    RpcError,
)
from .framing import LineFramer, MessageTooLarge
from .jsonrpc import (
    ErrorObject,
    ErrorResponse,
    IncomingError,
    IncomingNotification,
    IncomingRequest,
    IncomingResponse,
    MalformedMessage,
    Notification,
    Request,
    RequestId,
    Response,
    decode_message,
    parse_error,
)
from .methods import METHODS, NOTIFICATIONS, Method, NotificationMethod

__all__ = [
    "INTERNAL_ERROR",
    "INVALID_PARAMS",
    "INVALID_REQUEST",
    "METHODS",
    "METHOD_NOT_FOUND",
    "NOTIFICATIONS",
    "NOT_FOUND",
    "ErrorObject",
    "ErrorResponse",
    "IncomingError",
    "IncomingNotification",
    "IncomingRequest",
    "IncomingResponse",
    "LineFramer",
    "MalformedMessage",
    "MessageTooLarge",
    "Method",
    "Notification",
    "NotificationMethod",
    "Request",
    "RequestId",
    "Response",
    "RpcError",
    "decode_message",
    "parse_error",
    "process",
    "session",
]
