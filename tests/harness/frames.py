"""Every JSON-RPC message between the harness and its exec-server, as the wire carried it.

Over websocket, :class:`FrameLog` is the tap of a ``tests/proxy.py`` proxy: it skips
each direction's HTTP upgrade, then decodes websocket frames with wsproto (client
frames masked, server frames not). Over stdio, ``stdio_tee.py`` writes each line to a
file prefixed with who sent it, and :meth:`FrameLog.load_tee` reads that back.
Tests use the log to prove what went through the executor (``fs/*`` calls, every
output byte a process produced, the resume after a cut).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trio
from wsproto.frame_protocol import FrameProtocol, Opcode

Message = dict[str, Any]


@dataclass(frozen=True)
class Frame:
    connection: int
    sender: str  # "client" (the harness) or "server" (the exec-server)
    message: Message


@dataclass
class _Direction:
    """One direction of one connection: the upgrade still being skipped, then frames."""

    protocol: FrameProtocol
    handshake: bytearray = field(default_factory=bytearray)
    upgraded: bool = False
    parts: list[str] = field(default_factory=list)


@dataclass
class FrameLog:
    frames: list[Frame] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    _directions: dict[tuple[int, str], _Direction] = field(default_factory=dict)
    _grew: trio.Event = field(default_factory=trio.Event)

    def tap(self, connection: int, sender: str, data: bytes) -> None:
        """The proxy's tap: called with every piece forwarded, in order per direction."""
        key = (connection, sender)
        direction = self._directions.get(key)
        if direction is None:
            # Frames from the client are masked: parse them as a server would.
            direction = _Direction(FrameProtocol(client=sender == "server", extensions=[]))
            self._directions[key] = direction
        if not direction.upgraded:
            direction.handshake += data
            head, sep, rest = bytes(direction.handshake).partition(b"\r\n\r\n")
            if not sep:
                return
            if b"sec-websocket-extensions" in head.lower():
                self.errors.append(f"a websocket extension was negotiated: {head!r}")
            direction.upgraded = True
            data = rest
        direction.protocol.receive_bytes(data)
        try:
            for frame in direction.protocol.received_frames():
                if frame.opcode in (Opcode.TEXT, Opcode.CONTINUATION):
                    direction.parts.append(frame.payload)
                    if frame.message_finished:
                        self._add(connection, sender, "".join(direction.parts))
                        direction.parts.clear()
        except Exception as exc:  # a frame error is a finding, not a proxy crash
            self.errors.append(f"connection {connection} {sender}: {exc!r}")

    def load_tee(self, path: Path) -> None:
        """Read the lines ``stdio_tee.py`` recorded (``C `` or ``S `` then the line)."""
        with path.open("rb") as lines:
            for line in lines:
                sender = {b"C": "client", b"S": "server"}[line[:1]]
                self._add(1, sender, line[2:].decode())

    def _add(self, connection: int, sender: str, text: str) -> None:
        try:
            message = json.loads(text)
        except ValueError:
            self.errors.append(f"not JSON from the {sender}: {text[:200]!r}")
            return
        self.frames.append(Frame(connection, sender, message))
        self._grew.set()
        self._grew = trio.Event()

    async def wait_for(self, predicate: Callable[[Frame], bool]) -> Frame:
        """Return the first frame (already seen or still to come) that satisfies predicate."""
        seen = 0
        while True:
            for frame in self.frames[seen:]:
                if predicate(frame):
                    return frame
            seen = len(self.frames)
            await self._grew.wait()

    # Reading the log.

    def requests(self, method: str) -> list[Message]:
        return [
            frame.message
            for frame in self.frames
            if frame.sender == "client" and frame.message.get("method") == method
        ]

    def response_to(self, request: Message) -> Message | None:
        """The response with the request's id on the same connection (ids restart per
        connection, so a resumed connection's ids are told apart)."""
        connection = self._connection_of(request)
        for frame in self.frames:
            if (
                frame.sender == "server"
                and frame.connection == connection
                and "method" not in frame.message
                and frame.message.get("id") == request.get("id")
            ):
                return frame.message
        return None

    def _connection_of(self, message: Message) -> int:
        return next(frame.connection for frame in self.frames if frame.message is message)

    def notifications(self, method: str) -> list[Message]:
        return [
            frame.message
            for frame in self.frames
            if frame.sender == "server" and frame.message.get("method") == method
        ]

    def paths(self, method_prefix: str) -> list[str]:
        """The ``path`` of every request whose method starts with ``method_prefix``."""
        return [
            str(frame.message.get("params", {}).get("path"))
            for frame in self.frames
            if frame.sender == "client"
            and str(frame.message.get("method", "")).startswith(method_prefix)
        ]

    def output_delivered(self, process_id: str, *, from_reads: bool) -> tuple[bytes, list[int]]:
        """The output the server delivered for one process, in seq order, and the seqs.

        ``from_reads``: only what ``process/read`` results carried (what the 0.130
        harness builds its output from); otherwise notifications and reads together
        (the 0.171 harness uses both). A seq seen twice counts once.
        """
        chunks: dict[int, bytes] = {}
        for chunk in self._chunks(process_id, from_reads=from_reads):
            chunks.setdefault(chunk["seq"], base64.b64decode(chunk["chunk"]))
        seqs = sorted(chunks)
        return b"".join(chunks[seq] for seq in seqs), seqs

    def _chunks(self, process_id: str, *, from_reads: bool) -> Iterator[Message]:
        for request in self.requests("process/read"):
            if request.get("params", {}).get("processId") != process_id:
                continue
            response = self.response_to(request)
            if response is not None:
                yield from response.get("result", {}).get("chunks", [])
        if not from_reads:
            for note in self.notifications("process/output"):
                if note.get("params", {}).get("processId") == process_id:
                    yield note["params"]

    def started_process(self, needle: str) -> str | None:
        """The processId of the first process/start whose command contains ``needle``."""
        for request in self.requests("process/start"):
            params = request.get("params", {})
            if any(needle in arg for arg in params.get("argv", [])):
                return str(params.get("processId"))
        return None
