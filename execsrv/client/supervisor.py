"""The resume supervisor: the current peer, and a new one when it drops.

It owns the session's side of the handshake (``initialize``, ``initialized``),
learns there which protocol generation the server speaks, and, with a dialer
(``auto_resume``), re-dials with backoff and resumes the session when the
connection is lost, then has the router catch the process streams up. Without
one, the first loss is final.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Final

import trio

from ..changed import Changed
from ..logs import clip
from ..protocol.environment import EnvironmentInfo
from ..protocol.errors import ALREADY_ATTACHED
from ..protocol.generation import Generation
from ..protocol.methods import INITIALIZE, INITIALIZED
from ..protocol.session import InitializeParams
from ..transport import MessageTransport
from .errors import AuthenticationFailed, Disconnected, RemoteError
from .peer import Peer
from .router import NotificationRouter

__all__ = ["CONNECT_SECONDS", "Dialer", "ResumeSupervisor"]

log = logging.getLogger("execsrv.client")

CONNECT_SECONDS: Final = 10.0
"""Limit on the websocket and ``initialize`` handshake (as the reference's client)."""

RESUME_WITHIN_SECONDS: Final = 30.0
"""How long ``auto_resume`` keeps re-dialling a 0.130 server (execsrv's default session
TTL; codex 0.130's is 10 s)."""

RESUME_WITHIN_SECONDS_0_171: Final = 80.0
"""How long ``auto_resume`` keeps re-dialling a 0.171 server (codex 0.171's session TTL)."""

ATTACHED_ELSEWHERE_SUFFIX: Final = "is already attached to another connection"
"""How codex refuses to resume a session still attached (0.171: code ``-32010``;
0.130: ``-32600``)."""

FIRST_RETRY_SECONDS: Final = 0.05
MAX_RETRY_SECONDS: Final = 2.0

Dialer = Callable[[], Awaitable[MessageTransport]]


class ResumeSupervisor:
    """Keeps a client's session on a working connection, or says why it cannot.

    Calls go to :meth:`live_peer`. States: connected; in an outage (lost,
    resuming: calls raise ``Disconnected``); gone for good (:attr:`gone`).
    """

    def __init__(
        self,
        transport: MessageTransport,
        router: NotificationRouter,
        *,
        client_name: str,
        dial: Dialer | None,
    ) -> None:
        self._router = router
        self._client_name = client_name
        self._dial = dial
        self.peer = Peer(transport, router.route)
        """The current connection's peer (a lost one until a resume replaces it)."""
        self.session_id = ""
        self.environment_info: EnvironmentInfo | None = None
        """The last ``initialize`` result's ``environmentInfo`` (None from a server
        without one, such as codex 0.130)."""
        self.generation = Generation.V0_130
        """What the server speaks, as its last ``initialize`` result said."""
        self.resumes = 0
        """How many times the session was resumed on a new connection."""
        self._outage: Disconnected | None = None  # lost, maybe resuming
        self.gone: Disconnected | None = None
        """The error every call raises once the connection is gone for good, else None."""
        self._changed = Changed()  # outage, gone or resumes changed

    def live_peer(self) -> Peer:
        """The peer to call now; raises ``Disconnected`` in an outage or when gone."""
        unavailable = self.gone or self._outage or self.peer.lost
        if unavailable is not None:
            raise unavailable
        return self.peer

    async def wait_connected(self) -> None:
        """Return once there is a working connection; raise ``gone`` if there never
        will be again."""
        await self._changed.wait_until(lambda: self.gone is not None or self._connected())
        if self.gone is not None:
            raise self.gone

    def _connected(self) -> bool:
        # The peer is lost a moment before this supervisor marks the outage.
        return self._outage is None and self.peer.lost is None

    async def wait_resumed(self, count: int) -> None:
        """Return once the session has been resumed ``count`` times in all; raise
        ``gone`` if the client gives up first."""
        await self._changed.wait_until(lambda: self.gone is not None or self.resumes >= count)
        if self.resumes < count:
            assert self.gone is not None
            raise self.gone

    async def handshake(self, resume_session_id: str | None) -> None:
        """``initialize`` (resuming if asked) then ``initialized`` on the current peer;
        ends an outage.

        Raises:
            RemoteError: the server refused ``initialize``.
            Disconnected: the connection was lost meanwhile.
        """
        peer = self.peer
        params = InitializeParams(
            client_name=self._client_name, resume_session_id=resume_session_id
        )
        response = await peer.call(INITIALIZE, params)
        self.session_id = response.session_id
        self.environment_info = response.environment_info
        self.generation = response.server_generation()
        await peer.notify(INITIALIZED, {})
        if peer.lost is not None:
            raise peer.lost
        self._outage = None

    async def supervise(self, nursery: trio.Nursery) -> None:
        """Run the peer's reader and watch the peer; on a loss re-dial and resume (each
        new peer's reader also goes in ``nursery``), or give up. Returns once the
        connection is gone for good."""
        nursery.start_soon(self.peer.read_messages)
        while True:
            lost = await self.peer.wait_lost()
            if self.gone is not None:
                return
            if self._outage is None:
                self._outage = lost
                self._router.connection_lost(lost.reason)
                self._changed.notify()
            if self._dial is None:
                self.give_up(lost.reason)
                return
            log.info("connection lost (%s); resuming session", clip(lost.reason))
            try:
                await self._resume(nursery, self._dial)
            except Disconnected as error:
                self.give_up(error.reason)
                return

    def give_up(self, reason: str) -> None:
        """Gone for good: every later call raises, event streams end with ``Failed``."""
        if self.gone is not None:
            return
        self.gone = Disconnected(reason)
        self.peer.lose(reason)
        self._router.close(reason)
        self._changed.notify()

    async def _resume(self, nursery: trio.Nursery, dial: Dialer) -> None:
        """Re-dial with backoff, ``initialize`` with our session id, catch streams up."""
        last_error = self._outage.reason if self._outage else "connection lost"
        delay = FIRST_RETRY_SECONDS
        within = (
            RESUME_WITHIN_SECONDS_0_171
            if self.generation is Generation.V0_171
            else RESUME_WITHIN_SECONDS
        )
        with trio.move_on_after(within):
            while True:
                try:
                    with trio.fail_after(CONNECT_SECONDS):
                        await self._attach(nursery, await dial())
                        await self.handshake(self.session_id)
                    break
                except RemoteError as error:
                    if not _attached_elsewhere(error):  # e.g. the session expired: final
                        raise Disconnected(f"could not resume session: {error.message}") from None
                    # codex has not yet seen the old connection go: it will.
                    last_error = error.message
                except AuthenticationFailed:  # the same credentials cannot succeed later
                    raise
                except (Disconnected, trio.TooSlowError) as error:
                    last_error = str(error)
                await trio.sleep(delay)
                delay = min(delay * 2, MAX_RETRY_SECONDS)
        if self._outage is not None:
            raise Disconnected(f"could not resume within {within:g} s: {last_error}")
        self.resumes += 1
        self._router.resumed()
        self._changed.notify()

    async def _attach(self, nursery: trio.Nursery, transport: MessageTransport) -> None:
        """A new peer on ``transport``, current from now on, its reader started."""
        old, self.peer = self.peer, Peer(transport, self._router.route)
        await old.transport.aclose()
        nursery.start_soon(self.peer.read_messages)

    async def aclose(self, *, abort: bool) -> None:
        """Give up and close the current transport: with a goodbye, or (``abort``,
        e.g. when cancelled and the reader is going away too) at once."""
        self.give_up("client closed")
        if abort:
            await self.peer.transport.abort()
        else:
            await self.peer.transport.aclose()


def _attached_elsewhere(error: RemoteError) -> bool:
    """codex refusing a resume because the session is still attached (no takeover there)."""
    return error.code == ALREADY_ATTACHED or error.message.endswith(ATTACHED_ELSEWHERE_SUFFIX)
