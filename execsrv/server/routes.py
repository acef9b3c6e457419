"""The route table: the only place that knows which handler serves which method.

A :class:`Route` binds one :class:`~execsrv.protocol.methods.Method` to one
handler, ``async def handler(call: Call[P]) -> R``, and carries what the
connection needs to schedule it, as data: whether the reader may answer it
inline, whether it long-polls, which process lane it belongs to, and what it
holds until answered. The connection reads only these; it knows no method by
name. :func:`build_routes` fails at startup when a method has no route or a
route no method.

Adding a method: its Structs and constant in :mod:`execsrv.protocol.methods`,
its handler in a ``*_api`` module, and one ``Route`` here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

import msgspec

from ..protocol import methods as m
from ..protocol.fs import FsWriteBlockParams
from ..protocol.process import WriteParams
from ..protocol.wire import Params, Payload
from .call import Call
from .discovery_api import DiscoveryApi
from .environment_api import EnvironmentApi
from .fs_api import FsApi
from .http_api import HttpApi
from .process_api import ProcessApi

__all__ = [
    "HANDSHAKE_METHODS",
    "Route",
    "RouteTable",
    "RouteTableError",
    "always",
    "build_routes",
    "never",
    "process_lane",
    "route_table",
]

P = TypeVar("P", bound=Params)
R = TypeVar("R", bound=Payload)

HANDSHAKE_METHODS = frozenset({m.INITIALIZE.name})
"""Served by the connection itself (the handshake), never by a route."""


def never(call: Call[Any]) -> bool:
    """The default ``inline``: the request runs in a task of its own."""
    return False


def always(call: Call[Any]) -> bool:
    """``inline`` for a handler that never waits."""
    return True


class _InProcess(Protocol):
    @property
    def process_id(self) -> str: ...


def process_lane(params: _InProcess) -> str:
    """The lane of a request about one process: its process id."""
    return params.process_id


def _chunk_bytes(params: WriteParams) -> int:
    return len(params.chunk)


@dataclass(frozen=True, slots=True)
class Route(Generic[P, R]):
    """One method, its handler, and how the connection schedules it."""

    method: m.Method[P, R]
    handler: Callable[[Call[P]], Awaitable[R | msgspec.Raw]]
    """Returns the result; a :class:`msgspec.Raw` is one already encoded."""
    inline: Callable[[Call[P]], bool] = never
    """True if the handler will not wait this time: the reader answers it itself
    (no task switch), provided its lane lets it go now. Must not block or fail."""
    long_poll: bool = False
    """May wait for events: when another connection takes the session over, the
    wait is cancelled and the request fails with ``RESUMED_ELSEWHERE``."""
    lane: Callable[[P], str] | None = None
    """The process lane it belongs to (see :mod:`.lanes`): an ordered method takes a
    ticket there, an unordered one waits behind what is already queued in it."""
    held_bytes: Callable[[P], int] | None = None
    """Bytes of input the request holds until it is answered, counted against the
    connection's budget for them (the reader waits while it is spent)."""
    awaits_reply: bool = False
    """The handler, or work it starts, waits for ``call.replied``: the connection then
    waits for the reply to be written before setting it."""


RouteTable = Mapping[str, Route[Any, Any]]
"""Routes by method name."""


class RouteTableError(Exception):
    """The routes do not cover the method table exactly: a bug, found at startup."""


def route_table(
    routes: Iterable[Route[Any, Any]], methods: Mapping[str, m.Method[Any, Any]] = m.METHODS
) -> RouteTable:
    """``routes`` by method name; raises :class:`RouteTableError` unless every method
    in ``methods`` but the handshake has exactly one route, and every route's method
    is one of ``methods``."""
    table: dict[str, Route[Any, Any]] = {}
    for route in routes:
        name = route.method.name
        if methods.get(name) is not route.method or name in HANDSHAKE_METHODS:
            raise RouteTableError(f"route for a method not in the method table: {name}")
        if name in table:
            raise RouteTableError(f"more than one route for {name}")
        table[name] = route
    missing = methods.keys() - table.keys() - HANDSHAKE_METHODS
    if missing:
        raise RouteTableError(f"no route for {', '.join(sorted(missing))}")
    return table


def _block_bytes(params: FsWriteBlockParams) -> int:
    return len(params.chunk)


def build_routes(
    processes: ProcessApi,
    files: FsApi,
    http: HttpApi,
    environment: EnvironmentApi | None = None,
    discovery: DiscoveryApi | None = None,
) -> RouteTable:
    """The server's routes; raises :class:`RouteTableError` if they are incomplete."""
    environment = environment or EnvironmentApi()
    discovery = discovery or DiscoveryApi()
    # A tuple, not a list: its items are inferred one by one, so mypy checks each
    # handler against its method's params (a list would infer them as Route[Any, Any]).
    routes = (
        Route(m.PROCESS_START, processes.start, lane=process_lane),
        Route(
            m.PROCESS_READ,
            processes.read,
            inline=processes.read_will_not_wait,
            long_poll=True,
            lane=process_lane,
        ),
        Route(
            m.PROCESS_WRITE,
            processes.write,
            inline=processes.write_will_not_wait,
            lane=process_lane,
            held_bytes=_chunk_bytes,
        ),
        Route(m.PROCESS_TERMINATE, processes.terminate, inline=always, lane=process_lane),
        Route(m.PROCESS_SIGNAL, processes.signal, inline=always, lane=process_lane),
        Route(m.PROCESS_RESIZE, processes.resize, inline=always, lane=process_lane),
        Route(m.PROCESS_CLOSE_STDIN, processes.close_stdin, inline=always, lane=process_lane),
        Route(m.PROCESS_LIST, processes.list, inline=always),
        Route(m.HTTP_REQUEST, http.request, awaits_reply=True),
        Route(m.HTTP_REQUEST_CANCEL, http.cancel, inline=always),
        Route(m.FS_READ_FILE, files.read_file, awaits_reply=True),
        Route(m.FS_WRITE_FILE, files.write_file),
        Route(m.FS_CREATE_DIRECTORY, files.create_directory),
        Route(m.FS_GET_METADATA, files.get_metadata),
        Route(m.FS_READ_DIRECTORY, files.read_directory),
        Route(m.FS_REMOVE, files.remove),
        Route(m.FS_COPY, files.copy),
        Route(m.FS_CANONICALIZE, files.canonicalize),
        Route(m.FS_WALK, files.walk),
        Route(m.FS_OPEN, files.open),
        Route(m.FS_READ_BLOCK, files.read_block),
        Route(m.FS_WRITE_BLOCK, files.write_block, held_bytes=_block_bytes),
        Route(m.FS_CLOSE, files.close, inline=always),
        Route(m.FS_WATCH_MISSING, files.watch_missing),
        Route(m.ENVIRONMENT_INFO, environment.info),
        Route(m.ENVIRONMENT_STATUS, environment.status, inline=always),
        Route(m.ENVIRONMENT_CONFIG_READ, environment.read_config),
        Route(m.CAPABILITIES_DISCOVER_V2, discovery.discover_v2),
        Route(m.CAPABILITY_ROOTS_DISCOVER, discovery.discover_roots),
    )
    return route_table(routes)
