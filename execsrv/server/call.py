"""What a handler is called with: one calling convention for every method.

Every handler is ``async def handler(call: Call[P]) -> R``: the decoded params,
the session, the connection the request came on (as a :class:`Peer`), and the
two events the dispatcher keeps for it. The routes (:mod:`.routes`) bind
handlers to methods; the connection (:mod:`.connection`) builds the ``Call``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

import trio

from ..protocol.generation import Generation
from ..protocol.methods import NotificationMethod
from ..protocol.wire import Params, Payload
from .session import Session

__all__ = ["Call", "Peer", "no_effect"]

P = TypeVar("P", bound=Params)
N = TypeVar("N", bound=Payload)


class Peer(Protocol):
    """What a handler may use of the connection its request came on.

    Compared by identity: one ``Peer`` per connection, so it can key
    per-connection state a handler keeps (see ``HttpApi``).
    """

    @property
    def nursery(self) -> trio.Nursery:
        """The connection's request nursery: work started here ends with the connection."""
        ...

    async def start_companion(
        self, async_fn: Callable[..., Awaitable[object]], *args: object
    ) -> object:
        """``nursery.start(async_fn, *args)`` in the request nursery, for state that
        lives as long as the connection serves requests (file handles, watches): the
        task is cancelled once the connection stops reading requests (the peer left
        or broke a rule, a resume took the session over, the server drains), so it
        never holds up the connection's end. Started after that, it is cancelled at once."""
        ...

    async def notify(self, method: NotificationMethod[N], params: N) -> None:
        """Send a notification to this peer, after what is queued before it; waits
        while the outbound queue is full (backpressure), returns at once if the
        connection is going away (the notification is dropped)."""
        ...


def no_effect() -> None:
    """``took_effect`` of a call outside any process lane: nothing waits for it."""


@dataclass(frozen=True, slots=True)
class Call(Generic[P]):
    """One request, as its handler sees it."""

    params: P
    """Decoded and checked by the method's decoder."""
    session: Session
    """The connection's session (the handshake is done before any handler runs)."""
    peer: Peer
    took_effect: Callable[[], None]
    """For an ordered method in a process lane: call once the effect is in place, so
    the next request in the lane may go (see :mod:`.lanes`); idempotent. Calling it is
    optional: the lane also moves on when the handler returns or fails."""
    replied: trio.Event
    """For a route with ``awaits_reply``: set once the result is written to the
    transport (an error reply: once it is on its way), or the request ended without
    one. Other routes' replies are not waited for, so this is set once the reply is
    queued; do not rely on it there."""
    generation: Generation = Generation.V0_130
    """The generation to answer as: what the request spoke on its own, else its
    session's (see :meth:`Session.heard`). Behaviour tied to a process (its exit
    code, its reads) follows the generation the process was started with."""
