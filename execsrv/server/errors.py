"""The one place the server turns domain errors into JSON-RPC errors.

Handlers raise the domain's own errors (:mod:`execsrv.process.errors`,
:class:`execsrv.fs.FsError`, :mod:`execsrv.http.errors`) or, for rules of the
wire itself, :class:`RpcError`. The dispatcher answers a domain error with
:func:`rpc_error`: the reference's code, and its message byte for byte.
"""

from __future__ import annotations

from typing import Final

from .. import fs
from ..environment import ConfigLoadError
from ..http import (
    BodyFailed,
    BodyTooLarge,
    HeaderEnvVarMissing,
    HttpError,
    InvalidHeaderName,
    InvalidHeaderValue,
    InvalidMethod,
    InvalidUrl,
    UnsupportedScheme,
)
from ..process import EmptyArgv, ProcessError, SpawnFailed
from ..protocol.errors import INTERNAL_ERROR, INVALID_REQUEST, NOT_FOUND, RpcError
from ..sandbox.codex_wrapper import WrapperArgumentsInvalid

__all__ = ["DOMAIN_ERRORS", "DomainError", "rpc_error"]

DomainError = ProcessError | fs.FsError | HttpError | ConfigLoadError | WrapperArgumentsInvalid

DOMAIN_ERRORS: Final = (
    ProcessError,
    fs.FsError,
    HttpError,
    ConfigLoadError,
    WrapperArgumentsInvalid,
)
"""The exception types :func:`rpc_error` translates (for ``except``)."""

_FS_CODES: Final = {
    fs.ErrorKind.NOT_FOUND: NOT_FOUND,
    fs.ErrorKind.INVALID_INPUT: INVALID_REQUEST,
    fs.ErrorKind.OTHER: INTERNAL_ERROR,
}


def rpc_error(error: DomainError) -> RpcError:
    """The reply to a request that failed with ``error``.

    Process: a failed spawn is ``-32603`` (for a 0.171 request with ``data: {kind}``,
    as codex 0.171 classifies it), an empty ``argv`` ``-32602``, any
    other refusal ``-32600``. Files: by :class:`~execsrv.fs.ErrorKind`, not
    found ``-32004``, invalid input ``-32600``, else ``-32603``. HTTP: an
    invalid request is ``-32602``, a failed exchange ``-32603``, each with the
    reference's ``http/request`` wording around the runner's message. Config: a file
    that cannot be loaded is ``-32603`` (codex 0.171's wording). A wrapped command
    whose helper arguments cannot be honoured is ``-32600``.
    """
    match error:
        case SpawnFailed(kind=None):
            return RpcError.internal(error.message)
        case SpawnFailed(kind=kind):
            return RpcError(INTERNAL_ERROR, error.message, data={"kind": kind})
        case EmptyArgv():
            return RpcError.invalid_params(error.message)
        case ProcessError():
            return RpcError.invalid_request(error.message)
        case fs.FsError():
            return RpcError(_FS_CODES[error.kind], error.message)
        case InvalidMethod():
            return RpcError.invalid_params(f"http/request method is invalid: {error}")
        case InvalidUrl():
            return RpcError.invalid_params(f"http/request url is invalid: {error}")
        case UnsupportedScheme():
            return RpcError.invalid_params(
                f"http/request only supports http and https URLs, got {error.scheme}"
            )
        case InvalidHeaderName():
            return RpcError.invalid_params(f"http/request header name is invalid: {error}")
        case HeaderEnvVarMissing():
            return RpcError.invalid_params(f"http/request header {error.name} {error}")
        case InvalidHeaderValue():
            return RpcError.invalid_params(
                f"http/request header value is invalid for {error.name}: {error}"
            )
        case BodyFailed() | BodyTooLarge():
            return RpcError.internal(f"failed to read http/request response body: {error}")
        case HttpError():
            return RpcError.internal(f"http/request failed: {error}")
        case ConfigLoadError():
            return RpcError.internal(f"failed to load executor-local config: {error}")
        case WrapperArgumentsInvalid():
            return RpcError.invalid_request(error.message)
