"""The HTTP/1.1 client: h11 over ``trio.open_tcp_stream`` (and ``trio.SSLStream``).

:class:`HttpRequest` validates a request the way the reference does;
:class:`HttpExchange` sends it, follows redirects, and hands out the final
response's body piece by piece::

    request = HttpRequest.build("GET", "https://example.test/", [], None)
    async with HttpExchange(request) as exchange:
        head = await exchange.send()          # status and headers
        while chunk := await exchange.receive_some():
            ...

Deadlines are the caller's: wrap the calls in a cancel scope. A cancelled
exchange closes its connection on the way out. Each request (and each
redirect hop) uses a fresh connection, closed when the exchange ends.

What the reference's client (reqwest 0.12) does, and so this one does:

- Headers are kept in ``http::HeaderMap`` order (:mod:`.headers`), then
  ``accept: */*`` unless given, then on the wire ``host`` unless given and
  ``content-length`` for a non-empty body. Credentials in the URL become
  ``authorization: Basic …`` (first) and are removed from the URL.
- Redirects (301, 302, 303, 307, 308 with a usable ``Location``) are followed
  (unless the request says not to), at most :data:`MAX_REDIRECTS`. 303 turns
  anything but HEAD into a bodiless GET; 301 and 302 do that to POST only;
  307 and 308 resend as is. A bodiless switch drops ``content-type``,
  ``content-length``, ``content-encoding`` and ``transfer-encoding``; a hop to another host or port
  drops credentials and cookies; each hop sets ``referer`` (not https → http).
- A request built with ``decode=True`` (codex 0.171's client) also sends
  ``accept-encoding`` unless given, and a gzip body comes back decoded
  (:mod:`.decoding`).
- A ``route_aware`` request (codex 0.171 follows redirects itself) adds the
  default ``accept`` and ``accept-encoding`` on each hop after the headers it
  carries (so after ``referer``), and words redirect failures its own way
  (:class:`RedirectFailed`).
- The body is handed out in pieces of at most :data:`MAX_PIECE_BYTES`.
"""

from __future__ import annotations

import base64
import enum
import functools
import os
import ssl
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Final

import h11
import trio

from .decoding import ACCEPTED_ENCODINGS, GzipDecoder, decoder_for
from .errors import (
    BodyFailed,
    HeaderEnvVarMissing,
    InvalidUrl,
    RedirectFailed,
    RequestFailed,
    UnsupportedScheme,
)
from .headers import HeaderMap, header_name, header_value, validate_method
from .url import Url, parse_url

__all__ = [
    "MAX_PIECE_BYTES",
    "MAX_REDIRECTS",
    "HttpConnection",
    "HttpExchange",
    "HttpRequest",
    "ResponseHead",
    "default_ssl_context",
]

MAX_REDIRECTS: Final = 10
MAX_PIECE_BYTES: Final = 1 << 20
"""Most body bytes :meth:`HttpExchange.receive_some` returns at once (codex 0.171's
``MAX_HTTP_BODY_DELTA_BYTES``: a streamed body's frames are these pieces)."""
READ_SIZE: Final = MAX_PIECE_BYTES
"""Bytes asked of the socket per read; one read's body bytes become one piece."""
MAX_HEAD_BYTES: Final = 1 << 20
"""Largest response head (status line and headers) accepted."""
INLINE_BODY_BYTES: Final = 64 * 1024
"""Request bodies up to this size are written together with the head."""

_REDIRECT_STATUSES: Final = frozenset({301, 302, 303, 307, 308})
_PAYLOAD_HEADERS: Final = (
    "content-type",
    "content-length",
    "content-encoding",
    "transfer-encoding",
)
_SENSITIVE_HEADERS: Final = (
    "authorization",
    "cookie",
    "cookie2",
    "proxy-authorization",
    "www-authenticate",
)
_TRANSPORT_ERRORS: Final = (
    OSError,  # connect, resolve, ssl.SSLError
    trio.BrokenResourceError,
    trio.ClosedResourceError,
    h11.ProtocolError,
)


@functools.cache
def default_ssl_context() -> ssl.SSLContext:
    """The system trust store (``SSL_CERT_FILE``/``SSL_CERT_DIR`` are honoured)."""
    return ssl.create_default_context()


HeaderLine = tuple[str, str] | tuple[str, str, str | None]
"""A header as given: name, value, and optionally an environment variable whose
value is appended to ``value`` (codex 0.171's ``valueEnvVar``)."""


@dataclass(frozen=True)
class HttpRequest:
    """A validated request: method bytes, URL without credentials, headers, body.

    ``follow_redirects`` false answers with the first response, a 3xx as it is;
    ``decode`` asks for and decodes gzip bodies (see :mod:`.decoding`);
    ``hop_defaults`` are added to each hop's headers unless present (a
    route-aware request's ``accept`` and ``accept-encoding``); ``route_aware``
    words redirect failures as codex 0.171 does.
    """

    method: bytes
    url: Url
    headers: HeaderMap = field(repr=False)  # values may hold a secret (valueEnvVar)
    body: bytes | None = field(repr=False)
    follow_redirects: bool = True
    decode: bool = False
    route_aware: bool = False
    hop_defaults: tuple[tuple[str, bytes], ...] = ()

    @classmethod
    def build(
        cls,
        method: str,
        url: str,
        headers: Iterable[HeaderLine],
        body: bytes | None,
        *,
        follow_redirects: bool = True,
        decode: bool = False,
        route_aware: bool = False,
        environ: Mapping[str, str] | None = None,
    ) -> HttpRequest:
        """Validate in the reference's order: method, URL, then each header (its
        name, its environment variable, its value).

        ``environ`` (default: this process's) is where a header's environment
        variable is read.

        Raises:
            InvalidRequest: one of its subclasses, for the first problem found.
        """
        method_bytes = validate_method(method)
        parsed = parse_url(url)
        environ = os.environ if environ is None else environ
        given = HeaderMap()
        for name, value, *env_var in headers:
            lowered = header_name(name)
            if env_var and env_var[0] is not None:
                value += _env_value(environ, name, env_var[0])
            given.append(lowered, header_value(name, value))
        final = HeaderMap()
        credentials = parsed.credentials()
        if credentials is not None:
            username, password = credentials
            token = base64.b64encode(f"{username}:{password or ''}".encode()).decode()
            final.append("authorization", f"Basic {token}".encode())
            parsed = parsed.without_credentials()
        final.replace_from(given)
        defaults = [("accept", b"*/*")]
        if decode:
            defaults.append(("accept-encoding", ACCEPTED_ENCODINGS))
        if not route_aware:
            for default_name, default_value in defaults:
                final.setdefault(default_name, default_value)
            defaults = []
        return cls(
            method_bytes,
            parsed,
            final,
            body,
            follow_redirects=follow_redirects,
            decode=decode,
            route_aware=route_aware,
            hop_defaults=tuple(defaults),
        )


def _env_value(environ: Mapping[str, str], header: str, variable: str) -> str:
    """The value of ``variable``; it must be set and not empty."""
    value = environ.get(variable)
    if not value:
        raise HeaderEnvVarMissing(header, variable, empty=value == "")
    return value


@dataclass(frozen=True)
class ResponseHead:
    """The final response's status and headers (names lowercased, values raw)."""

    status: int
    headers: HeaderMap
    url: Url
    """Where it came from, after redirects."""


class _State(enum.Enum):
    IDLE = "idle"  # connected, nothing sent
    WAITING = "waiting"  # request sent, waiting for the response head
    BODY = "body"  # head received, body not finished
    DONE = "done"  # the whole response was read
    CLOSED = "closed"


class HttpConnection:
    """One HTTP/1.1 connection carrying one request; see :meth:`open`."""

    def __init__(self, stream: trio.abc.Stream) -> None:
        self._stream = stream
        self._h11 = h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_HEAD_BYTES)
        self.state = _State.IDLE
        self._method = b""
        self._unread: int | None = None  # content-length bytes still to come (fast path)
        self._early = b""  # body bytes that arrived with the head

    @classmethod
    async def open(cls, url: Url, ssl_context: ssl.SSLContext) -> HttpConnection:
        """Connect (and for https, complete the TLS handshake) to ``url``'s origin."""
        tcp = await trio.open_tcp_stream(url.connect_host, url.port_or_default)
        if url.scheme != "https":
            return cls(tcp)
        tls = trio.SSLStream(
            tcp, ssl_context, server_hostname=url.connect_host, https_compatible=True
        )
        try:
            await tls.do_handshake()
        except BaseException:
            await trio.aclose_forcefully(tcp)
            raise
        return cls(tls)

    async def send_request(
        self, method: bytes, url: Url, headers: HeaderMap, body: bytes | None
    ) -> None:
        """Write the head (in exactly ``headers``' order) and the body.

        h11 writes ``host`` first and refuses values with surrounding
        whitespace, which the reference sends as given; so the head is written
        here and h11 only gets an equivalent event, to frame the body and
        track the exchange.
        """
        wire = list(headers)
        if "host" not in headers:
            wire.append(("host", url.authority.encode()))
        body = body or b""
        declared = headers.get("content-length")
        if declared is not None and declared.strip().isdigit():
            body = body[: int(declared)]  # a caller's length wins, as with hyper
        elif body and "transfer-encoding" not in headers:
            wire.append(("content-length", str(len(body)).encode()))
        target = url.target.encode()
        head = b"".join(
            [method, b" ", target, b" HTTP/1.1\r\n"]
            + [b"%s: %s\r\n" % (name.encode(), value) for name, value in wire]
            + [b"\r\n"]
        )
        event = h11.Request(
            method=method,
            target=target,
            headers=[(name.encode(), value.strip(b" \t")) for name, value in wire],
        )
        self._h11.send(event)  # the bytes are the same head in h11's order: not used
        self._method = method
        framed = self._h11.send(h11.Data(data=body)) if body else b""
        framed = (framed or b"") + (self._h11.send(h11.EndOfMessage()) or b"")
        self.state = _State.WAITING
        await self._send_all(head + framed if len(framed) <= INLINE_BODY_BYTES else head)
        if len(framed) > INLINE_BODY_BYTES:
            await self._send_all(framed)

    async def receive_head(self) -> h11.Response:
        """The final (non-1xx) response head."""
        while True:
            event = await self._next_event()
            if isinstance(event, h11.Response):
                self.state = _State.BODY
                self._unread = self._content_length(event)
                if self._unread is not None:
                    self._early = self._h11.trailing_data[0]
                return event
            if not isinstance(event, h11.InformationalResponse):
                raise h11.RemoteProtocolError("server closed the connection without a response")

    def _content_length(self, response: h11.Response) -> int | None:
        """The body length when it is framed by ``content-length`` alone, else None.

        Such a body is read straight from the stream, bypassing h11's receive
        buffer (two copies of every byte); h11 still parses everything else.
        The connection is never reused, so h11 need not see the body.
        """
        if self._method == b"HEAD" or response.status_code in (204, 304):
            return None
        lengths = [value for name, value in response.headers if name == b"content-length"]
        if any(name == b"transfer-encoding" for name, _ in response.headers) or not lengths:
            return None
        return int(lengths[0])  # h11 has checked that it is one valid number

    async def receive_some(self) -> bytes:
        """The body bytes of one read (several h11 events); ``b""`` once complete."""
        if self._unread is not None:
            return await self._receive_counted()
        pieces: list[bytes] = []
        while self.state is _State.BODY:
            event = self._h11.next_event()
            if event is h11.NEED_DATA:
                if pieces:
                    break
                self._h11.receive_data(bytes(await self._stream.receive_some(READ_SIZE)))
            elif isinstance(event, h11.Data):
                pieces.append(event.data)
            elif isinstance(event, h11.EndOfMessage):
                self.state = _State.DONE
            else:
                raise h11.RemoteProtocolError("connection closed in the middle of the body")
        return b"".join(pieces)

    async def _receive_counted(self) -> bytes:
        assert self._unread is not None
        if self.state is not _State.BODY:
            return b""
        if self._early:
            data, self._early = self._early, b""
        elif self._unread:
            data = bytes(await self._stream.receive_some(min(READ_SIZE, self._unread)))
            if not data:
                raise h11.RemoteProtocolError("connection closed in the middle of the body")
        else:
            data = b""
        data = data[: self._unread]
        self._unread -= len(data)
        if not self._unread:
            self.state = _State.DONE
        return data

    async def aclose(self) -> None:
        """Close at once (no TLS close_notify wait); idempotent."""
        if self.state is not _State.CLOSED:
            self.state = _State.CLOSED
            await trio.aclose_forcefully(self._stream)

    async def _send_all(self, data: bytes) -> None:
        try:
            await self._stream.send_all(data)
        except BaseException:
            self._h11.send_failed()
            raise

    async def _next_event(self) -> h11.Event | type[h11.NEED_DATA] | type[h11.PAUSED]:
        while True:
            event = self._h11.next_event()
            if event is not h11.NEED_DATA:
                return event
            self._h11.receive_data(bytes(await self._stream.receive_some(READ_SIZE)))


class HttpExchange:
    """Send one :class:`HttpRequest`, following redirects, and read the final body.

    ``url`` is the URL being fetched (it changes as redirects are followed).
    Use it as an async context manager: leaving closes the connection.
    """

    def __init__(self, request: HttpRequest, *, ssl_context: ssl.SSLContext | None = None) -> None:
        self._request = request
        self._ssl_context = ssl_context
        self._connection: HttpConnection | None = None
        self._decoder: GzipDecoder | None = None
        self._held = b""  # raw bytes read but not yet handed out (beyond one piece)
        self.url = request.url

    async def __aenter__(self) -> HttpExchange:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._connection is not None:
            await self._connection.aclose()

    async def send(self) -> ResponseHead:
        """Send the request, follow redirects, return once the final head is in.

        Raises:
            RequestFailed: connect, TLS, send or receive failed before the final
                head; too many redirects; a redirect to a non-http(s) URL.
            RedirectFailed: the last two, for a route-aware request.
        """
        method, headers, body = (
            self._request.method,
            self._request.headers.copy(),
            self._request.body,
        )
        visited = 0
        while True:
            url = self.url
            sent = headers
            if self._request.hop_defaults:
                sent = headers.copy()
                for name, value in self._request.hop_defaults:
                    sent.setdefault(name, value)
            response = await self._fetch(method, url, sent, body)
            response_headers = HeaderMap((name.decode(), value) for name, value in response.headers)
            head = ResponseHead(response.status_code, response_headers, url)
            next_url = None
            if self._request.follow_redirects:
                next_url = self._redirect_target(head, self._request.route_aware)
            if next_url is None:
                if self._request.decode:
                    self._decoder = decoder_for(head.headers, MAX_PIECE_BYTES)
                return head
            visited += 1
            if visited > MAX_REDIRECTS:
                if self._request.route_aware:
                    raise RedirectFailed("too many redirects")
                raise RequestFailed.redirecting(str(url))
            await self.aclose()
            status = response.status_code
            if status == 303 or (status in (301, 302) and method == b"POST"):
                if status != 303 or method != b"HEAD":
                    method = b"GET"
                body = None
                for name in _PAYLOAD_HEADERS:
                    headers.remove(name)
            if (next_url.host, next_url.port_or_default) != (url.host, url.port_or_default):
                for name in _SENSITIVE_HEADERS:
                    headers.remove(name)
            if not (url.scheme == "https" and next_url.scheme == "http"):
                referer = url.without_credentials().without_fragment()
                headers.insert("referer", str(referer).encode())
            self.url = next_url

    async def receive_some(self) -> bytes:
        """The next piece of the body (decoded, if it was), at most
        :data:`MAX_PIECE_BYTES`; ``b""`` at its end.

        Raises:
            BodyFailed: the body broke off (bad framing, connection lost), or it
                does not decode.
        """
        decoder = self._decoder
        if decoder is None:
            return await self._receive_raw()
        while not decoder.finished:
            if decoder.has_more:
                piece = decoder.more()
            else:
                raw = await self._receive_raw()
                if not raw:
                    decoder.end()
                    return b""
                piece = decoder.feed(raw)
            if piece:
                return piece
        return b""  # what follows the gzip member is not read (as reqwest)

    async def _receive_raw(self) -> bytes:
        """The next raw piece of the body, at most :data:`MAX_PIECE_BYTES`."""
        assert self._connection is not None, "send() first"
        if not self._held:
            try:
                self._held = await self._connection.receive_some()
            except _TRANSPORT_ERRORS as error:
                raise BodyFailed from error
        piece, self._held = self._held[:MAX_PIECE_BYTES], self._held[MAX_PIECE_BYTES:]
        return piece

    async def _fetch(
        self, method: bytes, url: Url, headers: HeaderMap, body: bytes | None
    ) -> h11.Response:
        try:
            self._connection = await HttpConnection.open(
                url, self._ssl_context or default_ssl_context()
            )
            await self._connection.send_request(method, url, headers, body)
            return await self._connection.receive_head()
        except _TRANSPORT_ERRORS as error:
            raise RequestFailed.sending(str(url)) from error

    @staticmethod
    def _redirect_target(head: ResponseHead, route_aware: bool) -> Url | None:
        """Where a redirect response points, or None if it is the final response."""
        if head.status not in _REDIRECT_STATUSES:
            return None
        location = head.headers.get("location")
        if location is None:
            return None
        try:
            return head.url.join(location.decode())
        except (UnicodeDecodeError, InvalidUrl):
            return None  # an unusable Location: the 3xx itself is the answer
        except UnsupportedScheme as error:
            if route_aware:
                message = f"redirect target uses unsupported URL scheme: {error.scheme}"
                raise RedirectFailed(message) from None
            raise RequestFailed.building(error.url) from None
