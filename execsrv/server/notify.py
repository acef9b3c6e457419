"""Tell a service manager how ``serve`` is doing: systemd's ``Type=notify``
protocol (``sd_notify(3)``), without a dependency.

The manager passes a datagram socket in ``$NOTIFY_SOCKET``: a path, or an
abstract address written with a leading ``@``. ``serve`` sends ``READY=1`` once
its listeners are bound (the URL is on stdout by then) and ``STOPPING=1`` when
it starts shutting down. Outside such a manager nothing is sent.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import MutableMapping

__all__ = ["NOTIFY_SOCKET_ENV", "ServiceNotifier"]

log = logging.getLogger("execsrv.server")

NOTIFY_SOCKET_ENV = "NOTIFY_SOCKET"


class ServiceNotifier:
    """Sends state lines to the manager's socket; a no-op without one. Sending
    never raises: a manager that cannot be told is logged, not fatal."""

    def __init__(self, address: str | None) -> None:
        self.address = address
        """The socket named by ``$NOTIFY_SOCKET``, or None."""

    @classmethod
    def from_environment(cls, environ: MutableMapping[str, str] = os.environ) -> ServiceNotifier:
        """Take the address out of ``environ`` (as ``sd_notify`` with
        ``unset_environment`` does), so commands that inherit the server's
        environment cannot speak for it."""
        return cls(environ.pop(NOTIFY_SOCKET_ENV, None) or None)

    def send(self, state: str) -> bool:
        """Send ``state`` (``READY=1``, ``STOPPING=1``...); False if it was not sent."""
        if self.address is None:
            return False
        if self.address.startswith("@"):
            target = "\0" + self.address[1:]
        elif self.address.startswith("/"):
            target = self.address
        else:
            log.warning("cannot notify %s: unsupported address %r", state, self.address)
            return False
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.setblocking(False)  # a stuck manager must not stall the event loop
                sock.sendto(state.encode(), target)
        except OSError as error:
            log.warning("cannot notify %s to %s: %s", state, self.address, error)
            return False
        return True
