"""HTTP payloads: ``http/request`` and the ``http/request/bodyDelta`` notification.

Names follow the reference's Rust types, because its ``-32602`` messages name
them (``invalid type: null, expected struct HttpRequestParams``,
``invalid type: integer `5`, expected struct HttpHeader``).
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from .generation import Generation
from .wire import U16, U64, Params, Payload

__all__ = [
    "HttpHeader",
    "HttpRequestBodyDeltaNotification",
    "HttpRequestCancelParams",
    "HttpRequestCancelResponse",
    "HttpRequestParams",
    "HttpRequestResponse",
    "RedirectPolicy",
]

RedirectPolicy = Literal["follow", "stop"]


RequestId = Annotated[
    str,
    msgspec.Meta(
        description="The client's id for this request; routes `http/request/bodyDelta` frames."
    ),
]


class HttpHeader(Params):
    """One header line; names are case-insensitive, values are kept as given."""

    name: Annotated[str, msgspec.Meta(description="A token; sent lowercased.")]
    value: Annotated[
        str, msgspec.Meta(description="No control characters except tab (UTF-8 is sent as is).")
    ]
    value_env_var: Annotated[
        str | None,
        msgspec.Meta(
            description="(0.171, requests only) Append the value of this environment "
            'variable *of the server* to `value` (`"Bearer "` + `$TOKEN`), so a secret '
            "need not cross the wire. Unset: -32602 `http/request header <name> requires "
            "executor environment variable <VAR>`; empty: `… requires a non-empty executor "
            "environment variable <VAR>`. Checked after the header's name, before its value."
        ),
    ] = None


class HttpRequestParams(Params):
    """``http/request``: make an HTTP(S) request from the server's side.

    Redirects are followed (at most 10) unless ``redirectPolicy`` is ``stop``.
    Non-2xx statuses are results, not errors.

    A request answered as 0.171 (it has ``redirectPolicy`` or a ``valueEnvVar``, or
    its session has spoken 0.171) also sends ``accept-encoding: gzip`` unless given,
    and a response whose ``content-encoding`` is exactly ``gzip`` (and whose
    ``content-length`` is not ``0``) arrives decoded, without its ``content-encoding``
    and ``content-length`` headers, as codex 0.171 does. A 0.130 request gets the body
    as sent. codex 0.171 also offers and decodes ``zstd``; execsrv has no zstd decoder
    in the standard library and adds no dependency for one, so it offers gzip only.
    """

    method: Annotated[
        str, msgspec.Meta(description="A token, case-sensitive, sent as is (`get` stays `get`).")
    ]
    url: Annotated[str, msgspec.Meta(description="An absolute `http` or `https` URL.")]
    request_id: RequestId
    headers: Annotated[
        list[HttpHeader],
        msgspec.Meta(
            description="In order; a repeated name is sent as several lines (grouped, "
            "as the reference does). `accept: */*` and `host` are added unless given."
        ),
    ] = msgspec.field(default_factory=list)
    body_base64: Annotated[
        bytes | None, msgspec.Meta(description="The request body; null or absent: none.")
    ] = None
    timeout_ms: Annotated[
        U64 | None,
        msgspec.Meta(
            description="A deadline for the whole exchange, body included; null: none. "
            "0 fails at once, after the request is validated (0.171: `http/request "
            "failed: route-aware request timed out`; 0.130: `… error sending request "
            "for url (<url>)`)."
        ),
    ] = None
    stream_response: Annotated[
        bool,
        msgspec.Meta(
            description="Answer once the headers are in and send the body as "
            "`http/request/bodyDelta` notifications."
        ),
    ] = False
    redirect_policy: Annotated[
        RedirectPolicy | msgspec.UnsetType,
        msgspec.Meta(
            description="(0.171) `follow` (the default) or `stop`: answer with the first "
            "response, a 3xx included, as it is. `null` is refused, as in codex."
        ),
    ] = msgspec.UNSET

    def generation(self) -> Generation | None:
        """``redirectPolicy`` or a ``valueEnvVar`` header: only 0.171 sends them."""
        if self.redirect_policy is not msgspec.UNSET:
            return Generation.V0_171
        if any(header.value_env_var is not None for header in self.headers):
            return Generation.V0_171
        return None


class HttpRequestResponse(Payload):
    """The final response (after redirects)."""

    status: Annotated[U16, msgspec.Meta(description="The HTTP status code.")]
    headers: Annotated[
        list[HttpHeader],
        msgspec.Meta(
            description="Lowercased names, repeats kept (grouped by name); values that "
            "are not visible ASCII are dropped."
        ),
    ]
    body_base64: Annotated[
        bytes, msgspec.Meta(description="The whole body; empty when `streamResponse` is true.")
    ]


class HttpRequestBodyDeltaNotification(Payload):
    """``http/request/bodyDelta``: one piece of a streamed response body, at most
    1 MiB (codex 0.171's ``MAX_HTTP_BODY_DELTA_BYTES``; decoded bytes when decoded).

    The last frame has ``done: true`` and an empty delta; ``error`` says why a
    body ended early (``error decoding response body``).
    """

    request_id: RequestId
    seq: Annotated[int, msgspec.Meta(description="1, 2, 3, … per request.")]
    delta_base64: Annotated[bytes, msgspec.Meta(description="The next body bytes; may be empty.")]
    done: Annotated[bool, msgspec.Meta(description="The last frame of this body.")]
    error: Annotated[
        str | None,
        msgspec.Meta(description="Why the body ended early (only on the last frame); else null."),
    ]


class HttpRequestCancelParams(Params):
    """``http/request/cancel`` (extension): stop a streamed ``http/request``.

    codex has no way to stop a streamed body short of closing the connection (the
    executor keeps downloading what nobody reads); this closes the request's
    connection to the origin. Before the head is in, the ``http/request`` fails
    (``error sending request``); after it, the body ends with a last frame whose
    ``error`` is ``cancelled``. Buffered requests cannot be cancelled.
    """

    request_id: Annotated[
        str, msgspec.Meta(description="The `requestId` of a streamed request on this connection.")
    ]


class HttpRequestCancelResponse(Payload):
    cancelled: Annotated[
        bool,
        msgspec.Meta(
            description="The request was still running (false: unknown, or already done)."
        ),
    ]
