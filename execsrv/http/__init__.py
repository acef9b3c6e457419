"""An HTTP/1.1 client on trio and h11 that behaves like the reference's reqwest.

No RPC knowledge here: :mod:`execsrv.server.http_api` maps these types onto
``http/request``, and :mod:`execsrv.server.errors` these errors.
"""

from .errors import (
    BodyFailed,
    BodyTooLarge,
    HeaderEnvVarMissing,
    HttpError,
    InvalidHeaderName,
    InvalidHeaderValue,
    InvalidMethod,
    InvalidRequest,
    InvalidUrl,
    RedirectFailed,
    RequestFailed,
    UnsupportedScheme,
    ZeroTimeout,
)
from .headers import HeaderMap, is_visible_ascii
from .runner import (
    MAX_PIECE_BYTES,
    MAX_REDIRECTS,
    HttpConnection,
    HttpExchange,
    HttpRequest,
    ResponseHead,
    default_ssl_context,
)
from .url import Url, parse_url

__all__ = [
    "MAX_PIECE_BYTES",
    "MAX_REDIRECTS",
    "BodyFailed",
    "BodyTooLarge",
    "HeaderEnvVarMissing",
    "HeaderMap",
    "HttpConnection",
    "HttpError",
    "HttpExchange",
    "HttpRequest",
    "InvalidHeaderName",
    "InvalidHeaderValue",
    "InvalidMethod",
    "InvalidRequest",
    "InvalidUrl",
    "RedirectFailed",
    "RequestFailed",
    "ResponseHead",
    "UnsupportedScheme",
    "Url",
    "ZeroTimeout",
    "default_ssl_context",
    "is_visible_ascii",
    "parse_url",
]
