"""An HTTP/1.1 client on trio and h11 that behaves like the reference's reqwest.

No RPC knowledge here: :mod:`execsrv.server.http_api` maps these types onto
``http/request``, and :mod:`execsrv.server.errors` these errors.
"""

from .errors import (
    BodyFailed,
    BodyTooLarge,
    HttpError,
    InvalidHeaderName,
    InvalidHeaderValue,
    InvalidMethod,
    InvalidRequest,
    InvalidUrl,
    RequestFailed,
    UnsupportedScheme,
)
from .headers import HeaderMap, is_visible_ascii
from .runner import (
    MAX_REDIRECTS,
    HttpConnection,
    HttpExchange,
    HttpRequest,
    ResponseHead,
    default_ssl_context,
)
from .url import Url, parse_url

__all__ = [
    "MAX_REDIRECTS",
    "BodyFailed",
    "BodyTooLarge",
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
    "RequestFailed",
    "ResponseHead",
    "UnsupportedScheme",
    "Url",
    "default_ssl_context",
    "is_visible_ascii",
    "parse_url",
]
