"""Plain HTTP on the websocket port: readiness and liveness probes.

The server reads each new connection's request head before any check
(:func:`~execsrv.transport.websocket.receive_upgrade_request`), and
:func:`plain_answer` decides by its path, before the ``Origin`` and token checks:

- a path in :data:`PLAIN_ROUTES` is answered here with plain HTTP, upgrade
  headers or not (codex 0.171 answers an upgrade to ``/readyz`` with 200 too).
  Probes carry no credentials, so their answers hold no secrets;
- ``/`` (with any query) is the websocket path: None, the handshake goes on;
- any other path gets 404, upgrade or not, as codex 0.171's router answers.

``/readyz`` is 200 while the server takes new sessions, else 503 with the reason
(``draining``, ``at --max-sessions (N)``) as the body. ``/healthz`` (alias
``/livez``) is 200 whenever the event loop gets to answer it: it stays 200 during a
drain, so an orchestrator does not restart a draining server.

To serve another path, add a :data:`PlainRoute` to :data:`PLAIN_ROUTES`; a route
that needs the token checks ``server.policy.check(head.headers)`` itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Final
from urllib.parse import urlsplit

from ..transport.websocket import RequestHead

if TYPE_CHECKING:
    from .server import ExecServer

__all__ = ["PLAIN_ROUTES", "PlainAnswer", "PlainRoute", "not_ready_reason", "plain_answer"]

WEBSOCKET_PATH: Final = b"/"


@dataclass(frozen=True)
class PlainAnswer:
    """An HTTP answer to a request that does not open a websocket."""

    status: int
    body: bytes = b""
    content_type: bytes = b"text/plain; charset=utf-8"
    probe: bool = True
    """A probe's answer, logged at debug level (probes come every few seconds); False:
    a refusal, logged as a warning like the handshake's other refusals."""

    @property
    def headers(self) -> list[tuple[bytes, bytes]]:
        return [(b"Content-Type", self.content_type), (b"Cache-Control", b"no-store")]


PlainRoute = Callable[[RequestHead, "ExecServer"], PlainAnswer]
"""What a path answers: a function of the request head and the server."""

NOT_FOUND: Final = PlainAnswer(404, b"not found: the websocket path is /\n", probe=False)
METHOD_NOT_ALLOWED: Final = PlainAnswer(405, b"method not allowed: use GET or HEAD\n", probe=False)


def readyz(head: RequestHead, server: ExecServer) -> PlainAnswer:
    """200 (empty body, as codex 0.171) while new sessions are taken; else 503 and why."""
    reason = not_ready_reason(server)
    return PlainAnswer(200) if reason is None else PlainAnswer(503, f"{reason}\n".encode())


def healthz(head: RequestHead, server: ExecServer) -> PlainAnswer:
    """200: answering at all shows the event loop runs."""
    return PlainAnswer(200)


PLAIN_ROUTES: Final[dict[bytes, PlainRoute]] = {
    b"/readyz": readyz,
    b"/healthz": healthz,
    b"/livez": healthz,
}
"""Paths served as plain HTTP on the websocket port, GET and HEAD only."""


def not_ready_reason(server: ExecServer) -> str | None:
    """Why a new session would be refused now (None: it would be taken).

    At ``--max-sessions`` a new session still fits if a detached, idle session can
    make room for it (see ``SessionRegistry.create``).
    """
    if server.admission.refusal is not None:
        return server.admission.refusal
    if server.shutting_down:
        return "shutting down"
    registry, limit = server.registry, server.config.max_sessions
    if registry.live_count() >= limit and not any(
        not session.ending and session.reclaimable for session in registry.sessions()
    ):
        return f"at --max-sessions ({limit})"
    return None


def plain_answer(head: RequestHead, server: ExecServer) -> PlainAnswer | None:
    """The plain HTTP answer to ``head``, or None for the websocket path."""
    path = request_path(head.target)
    route = PLAIN_ROUTES.get(path)
    if route is None:
        return None if path == WEBSOCKET_PATH else NOT_FOUND
    if head.method not in (b"GET", b"HEAD"):
        return METHOD_NOT_ALLOWED
    answer = route(head, server)
    return replace(answer, body=b"") if head.method == b"HEAD" else answer


def request_path(target: bytes) -> bytes:
    """The path of a request target: origin form without its query, the path of an
    absolute URL (``/`` if it has none), or the target itself (``*``)."""
    if target.startswith(b"/"):
        return target.partition(b"?")[0]
    if b"://" in target:
        return urlsplit(target).path or b"/"
    return target
