"""The notification router: the server's notifications to the streams that wait for them.

``process/output``, ``process/exited`` and ``process/closed`` go to the
process's :class:`~.events.ProcessEventStream`; ``http/request/bodyDelta`` to
the request's :class:`~.http_body.HttpBodyStream`; ``fs/missingChanged`` to its
:class:`~.fs_watch.MissingWatch`. Notifications for nobody
(a process started elsewhere, a body already closed) are dropped. The router
outlives connections: a resume keeps every process stream and catches it up.
"""

from __future__ import annotations

import msgspec

from ..protocol.methods import (
    FS_MISSING_CHANGED,
    HTTP_BODY_DELTA,
    PROCESS_CLOSED,
    PROCESS_EXITED,
    PROCESS_OUTPUT,
)
from .errors import Disconnected
from .events import Closed, Exited, Output, ProcessEventStream
from .fs_watch import MissingWatch
from .http_body import HttpBodyStream

__all__ = ["NotificationRouter"]


class NotificationRouter:
    """Which process stream and which body stream each notification belongs to.

    Runs on the reader task (:meth:`route` never blocks); the connection's
    supervisor tells it when a connection is lost, resumed, or given up.
    """

    def __init__(self) -> None:
        self._processes: dict[str, ProcessEventStream] = {}
        self._bodies: dict[str, HttpBodyStream] = {}
        self._watches: dict[int, MissingWatch] = {}

    def route(self, method: str, params: msgspec.Raw) -> None:
        """Feed one notification to its stream; raises ``msgspec.ValidationError``
        if its params do not fit the method."""
        if method == PROCESS_OUTPUT.name:
            output = PROCESS_OUTPUT.decode(params)
            target = self._processes.get(output.process_id)
            if target is not None:
                target.feed(output.seq, Output(output.seq, output.stream, output.chunk))
        elif method == PROCESS_EXITED.name:
            exited = PROCESS_EXITED.decode(params)
            target = self._processes.get(exited.process_id)
            if target is not None:
                target.feed(exited.seq, Exited(exited.seq, exited.exit_code, exited.signal))
        elif method == PROCESS_CLOSED.name:
            closed = PROCESS_CLOSED.decode(params)
            target = self._processes.get(closed.process_id)
            if target is not None:
                target.feed(closed.seq, Closed(closed.seq))
        elif method == HTTP_BODY_DELTA.name:
            delta = HTTP_BODY_DELTA.decode(params)
            body = self._bodies.get(delta.request_id)
            if body is not None:
                body.feed(delta)
        elif method == FS_MISSING_CHANGED.name:
            changed = FS_MISSING_CHANGED.decode(params)
            watch = self._watches.pop(changed.watch_id, None)
            if watch is not None:
                watch.fire()

    # -- process streams ------------------------------------------------------

    def claim_process(self, process_id: str, stream: ProcessEventStream) -> bool:
        """Route ``process_id`` to ``stream`` unless another stream has it; True if taken."""
        if process_id in self._processes:
            return False
        self._processes[process_id] = stream
        return True

    def route_process(self, process_id: str, stream: ProcessEventStream) -> None:
        """Route ``process_id`` to ``stream``, replacing any other stream."""
        self._processes[process_id] = stream

    def forget_process(self, process_id: str, stream: ProcessEventStream) -> None:
        """Stop routing to (and recovering) ``stream``, if ``process_id`` is still routed to it."""
        if self._processes.get(process_id) is stream:
            del self._processes[process_id]

    # -- body streams ---------------------------------------------------------

    def open_body(self, request_id: str) -> HttpBodyStream:
        """A stream that ``request_id``'s body frames go to (open it before the request
        is sent); it stops being routed to when it finishes."""
        stream = HttpBodyStream(request_id, self._forget_body)
        self._bodies[request_id] = stream
        return stream

    def _forget_body(self, stream: HttpBodyStream) -> None:
        if self._bodies.get(stream.request_id) is stream:
            del self._bodies[stream.request_id]

    # -- missing-path watches -------------------------------------------------

    def open_watch(self, watch: MissingWatch) -> None:
        """Route ``fs/missingChanged`` for ``watch.watch_id`` to it (before the request)."""
        self._watches[watch.watch_id] = watch

    def forget_watch(self, watch: MissingWatch) -> None:
        if self._watches.get(watch.watch_id) is watch:
            del self._watches[watch.watch_id]

    # -- the connection's fate ------------------------------------------------

    def connection_lost(self, reason: str) -> None:
        """The server aborts body streams and watches with their connection: fail them."""
        for body in list(self._bodies.values()):
            body.fail(Disconnected(reason))
        watches, self._watches = list(self._watches.values()), {}
        for watch in watches:
            watch.fail(Disconnected(reason))

    def resumed(self) -> None:
        """The session is back on a new connection: process streams catch up by reads."""
        for stream in self._processes.values():
            stream.recover()

    def close(self, reason: str) -> None:
        """The connection is gone for good: every stream ends (``Failed``, or raises)."""
        for stream in self._processes.values():
            stream.fail(reason)
        self.connection_lost(reason)
