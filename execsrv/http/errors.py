"""The HTTP runner's errors, split by who is at fault and when it happened.

:class:`InvalidRequest` and its subclasses mean the request itself is wrong
(nothing was sent). :class:`RequestFailed` means it could not be completed up
to the final response's headers; :class:`BodyFailed` means the body broke off
afterwards. The texts are those of the reference's HTTP client (reqwest), which
clients of the exec-server match on.
"""

from __future__ import annotations

__all__ = [
    "BodyFailed",
    "BodyTooLarge",
    "HeaderEnvVarMissing",
    "HttpError",
    "InvalidHeaderName",
    "InvalidHeaderValue",
    "InvalidMethod",
    "InvalidRequest",
    "InvalidUrl",
    "RedirectFailed",
    "RequestFailed",
    "UnsupportedScheme",
    "ZeroTimeout",
]


class HttpError(Exception):
    """Base of the runner's errors; ``str()`` is the message to show."""


class InvalidRequest(HttpError):
    """The request cannot be sent as given."""


class InvalidMethod(InvalidRequest):
    """The method is not an HTTP token."""

    def __init__(self) -> None:
        super().__init__("invalid HTTP method")


class InvalidUrl(InvalidRequest):
    """The URL does not parse; the message is the URL parser's (``empty host``, …)."""


class UnsupportedScheme(InvalidRequest):
    """The URL parses but is neither ``http`` nor ``https``; ``url`` is as parsed."""

    def __init__(self, scheme: str, url: str) -> None:
        super().__init__(scheme)
        self.scheme = scheme
        self.url = url


class InvalidHeaderName(InvalidRequest):
    """A header name is not an HTTP token."""

    def __init__(self, name: str) -> None:
        super().__init__("invalid HTTP header name")
        self.name = name


class InvalidHeaderValue(InvalidRequest):
    """A header value has a control character other than tab."""

    def __init__(self, name: str) -> None:
        super().__init__("failed to parse header value")
        self.name = name


class HeaderEnvVarMissing(InvalidRequest):
    """A header's value names an environment variable that is unset (or empty).

    ``name`` is the header's name as given; the message never holds a value.
    """

    def __init__(self, name: str, variable: str, *, empty: bool) -> None:
        kind = "a non-empty executor" if empty else "executor"
        super().__init__(f"requires {kind} environment variable {variable}")
        self.name = name
        self.variable = variable


class RequestFailed(HttpError):
    """No final response: connect, TLS, sending, the response head, or redirects failed.

    ``url`` is the URL being fetched when it failed (after any redirects).
    """

    def __init__(self, kind: str, url: str) -> None:
        super().__init__(f"{kind} for url ({url})")
        self.url = url

    @classmethod
    def sending(cls, url: str) -> RequestFailed:
        """Connect, TLS, write or response-head failure (and a deadline before the head)."""
        return cls("error sending request", url)

    @classmethod
    def redirecting(cls, url: str) -> RequestFailed:
        """More than the allowed number of redirects."""
        return cls("error following redirect", url)

    @classmethod
    def building(cls, url: str) -> RequestFailed:
        """A redirect to a URL that cannot be fetched (not http or https)."""
        return cls("builder error", url)


class ZeroTimeout(HttpError):
    """A zero deadline refused before connecting, in codex 0.171's words."""

    def __init__(self) -> None:
        super().__init__("route-aware request timed out")


class RedirectFailed(HttpError):
    """A redirect not followed, in the words of codex 0.171's own redirect loop
    (``too many redirects``, ``redirect target uses unsupported URL scheme: ftp``);
    a request that is not route-aware gets :class:`RequestFailed` instead."""


class BodyFailed(HttpError):
    """The response body broke off (bad framing, connection lost, deadline)."""

    def __init__(self) -> None:
        super().__init__("error decoding response body")


class BodyTooLarge(HttpError):
    """A buffered body grew past the configured limit."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"response body is larger than the limit of {limit} bytes")
        self.limit = limit
