"""The one place the local backend turns domain errors into the client's errors.

A caller of :class:`~.base.ExecBackend` catches the same exceptions whichever
backend runs its code: what a client would raise for the server's answer
(:class:`~execsrv.RemoteError`, :class:`~execsrv.FileNotFound`). So the codes
and messages here are those :mod:`execsrv.server.errors` puts on the wire.
"""

from __future__ import annotations

from typing import Final

from .. import fs
from ..client.errors import RemoteError, client_error
from ..process import EmptyArgv, ProcessError, SpawnFailed
from ..protocol.errors import INTERNAL_ERROR, INVALID_PARAMS, INVALID_REQUEST, NOT_FOUND, RpcError

__all__ = ["as_client_error"]

_FS_CODES: Final = {
    fs.ErrorKind.NOT_FOUND: NOT_FOUND,
    fs.ErrorKind.INVALID_INPUT: INVALID_REQUEST,
    fs.ErrorKind.OTHER: INTERNAL_ERROR,
}


def as_client_error(error: ProcessError | fs.FsError | RpcError) -> RemoteError:
    """What a client raises when a server answers with ``error``.

    A protocol-level :class:`RpcError` (a relative path is ``-32602``) keeps its
    code and message.
    """
    match error:
        case SpawnFailed():
            code = INTERNAL_ERROR
        case EmptyArgv():
            code = INVALID_PARAMS
        case ProcessError():
            code = INVALID_REQUEST
        case fs.FsError():
            code = _FS_CODES[error.kind]
        case RpcError():
            code = error.code
    return client_error(code, error.message)
