"""A small, fast, blocking websocket client for the load generator.

Raw socket, RFC 6455 by hand: the client masks what it sends (as the RFC
requires); the server's frames are unmasked, so parsing them is slicing a
buffer. Messages are decoded with msgspec, ``chunk`` straight to bytes.
Deliberately independent of execsrv's own client and of trio: the load
generator must not be the bottleneck, and it must treat both servers alike.

Socket behaviour is explicit, because it decides the latency numbers:

- ``ordinary``: no socket options, as a plain client would connect.
- ``nodelay``: TCP_NODELAY on the client socket.
- ``hidden``: TCP_NODELAY, and TCP_QUICKACK set again after every recv, so the
  client acknowledges at once and a server that leaves Nagle on does not wait
  for our delayed ACK (the stall is hidden on the client side).
"""

from __future__ import annotations

import base64
import os
import random
import socket
import struct
import time
from typing import Literal
from urllib.parse import urlsplit

import msgspec

SocketMode = Literal["ordinary", "nodelay", "hidden"]

RECV_BYTES = 1 << 20
HANDSHAKE_TIMEOUT = 10.0

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


class Params(msgspec.Struct):
    """The union of the ``process/*`` notification params we look at."""

    processId: str | None = None  # camelCase: the wire names
    seq: int | None = None
    stream: str | None = None
    chunk: bytes | None = None  # base64 on the wire: msgspec decodes it
    exitCode: int | None = None


class Message(msgspec.Struct):
    id: int | str | None = None
    method: str | None = None
    params: Params | None = None
    result: msgspec.Raw = msgspec.Raw()  # empty when absent
    error: msgspec.Raw = msgspec.Raw()


_decode = msgspec.json.Decoder(Message).decode
_encode = msgspec.json.Encoder().encode


class WsClosed(Exception):
    pass


class WsClient:
    """One websocket connection; ``recv()`` returns every message that is complete."""

    def __init__(self, url: str, mode: SocketMode = "nodelay", timeout: float = 60.0) -> None:
        parts = urlsplit(url)
        host, port = parts.hostname or "127.0.0.1", parts.port or 80
        self.mode = mode
        self.sock = socket.create_connection((host, port), timeout=HANDSHAKE_TIMEOUT)
        if mode in ("nodelay", "hidden"):
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._quickack = mode == "hidden"
        self._rbuf = bytearray(RECV_BYTES)
        self._rview = memoryview(self._rbuf)
        self._buf = bytearray()
        self._kept: list[Message] = []
        """Messages that arrived with or before a reply :meth:`call` waited for."""
        self._fragments: list[bytes] = []
        self._next_id = 1
        self._handshake(host, port, parts.path or "/")
        self.sock.settimeout(timeout)

    # -- handshake -----------------------------------------------------------

    def _handshake(self, host: str, port: int, path: str) -> None:
        key = base64.b64encode(os.urandom(16)).decode()
        request = (
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        )
        self.sock.sendall(request.encode())
        deadline = time.monotonic() + HANDSHAKE_TIMEOUT
        while b"\r\n\r\n" not in self._buf:
            if time.monotonic() > deadline:
                raise TimeoutError("websocket handshake timed out")
            self._recv_some()
        head, _, rest = bytes(self._buf).partition(b"\r\n\r\n")
        status = head.split(b"\r\n", 1)[0]
        if b" 101 " not in status + b" ":
            raise ConnectionError(f"websocket upgrade refused: {status!r}")
        self._buf = bytearray(rest)

    # -- sending -------------------------------------------------------------

    def _frame(self, opcode: int, payload: bytes) -> bytes:
        n = len(payload)
        if n < 126:
            header = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
        elif n < 65536:
            header = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
        else:
            header = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
        mask = random.getrandbits(32).to_bytes(4, "little")
        # XOR the whole payload as one big integer: fast for our small requests.
        repeated = (mask * (n // 4 + 1))[:n]
        masked = (int.from_bytes(payload, "little") ^ int.from_bytes(repeated, "little")).to_bytes(
            n, "little"
        )
        return header + mask + masked

    def send_raw(self, payload: bytes) -> None:
        self.sock.sendall(self._frame(OP_TEXT, payload))

    def send_many(self, payloads: list[bytes]) -> None:
        """Several messages in one write (pipelining)."""
        self.sock.sendall(b"".join(self._frame(OP_TEXT, p) for p in payloads))

    def request_bytes(self, method: str, params: object) -> tuple[int, bytes]:
        request_id = self._next_id
        self._next_id += 1
        return request_id, _encode({"id": request_id, "method": method, "params": params})

    def request(self, method: str, params: object) -> int:
        """Send a request; return its id (read the reply with :meth:`recv`)."""
        request_id, payload = self.request_bytes(method, params)
        self.send_raw(payload)
        return request_id

    def notify(self, method: str, params: object) -> None:
        self.send_raw(_encode({"method": method, "params": params}))

    def call(self, method: str, params: object) -> Message:
        """Request and wait for its reply; other messages meanwhile are kept for :meth:`recv`."""
        message = self.call_raw(method, params)
        if message.error:
            raise RuntimeError(f"{method} failed: {bytes(message.error)!r}")
        return message

    def call_raw(self, method: str, params: object) -> Message:
        """Request and return its reply, an error reply included."""
        request_id = self.request(method, params)
        while True:
            messages = [_decode(payload) for payload in self.recv_payloads()]
            for index, message in enumerate(messages):
                if message.id == request_id and message.method is None:
                    self._kept.extend(messages[:index] + messages[index + 1 :])
                    return message
            self._kept.extend(messages)

    def initialize(self) -> None:
        self.call("initialize", {"clientName": "bench"})
        self.notify("initialized", {})

    # -- receiving -----------------------------------------------------------

    def _recv_some(self) -> None:
        n = self.sock.recv_into(self._rview)
        if self._quickack:
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
        if n == 0:
            raise WsClosed("server closed the connection")
        self._buf += self._rview[:n]

    def recv_payloads(self) -> list[bytes]:
        """Block until at least one whole message is in; return all complete ones."""
        while True:
            self._recv_some()
            payloads = self._parse()
            if payloads:
                return payloads

    def recv(self) -> list[Message]:
        """What :meth:`call` kept, else the next messages to arrive (at least one)."""
        if self._kept:
            kept, self._kept = self._kept, []
            return kept
        return [_decode(payload) for payload in self.recv_payloads()]

    def _parse(self) -> list[bytes]:
        buf = self._buf
        end = len(buf)
        pos = 0
        out: list[bytes] = []
        while end - pos >= 2:
            b0 = buf[pos]
            b1 = buf[pos + 1]
            length = b1 & 0x7F
            header = 2
            if length == 126:
                if end - pos < 4:
                    break
                length = (buf[pos + 2] << 8) | buf[pos + 3]
                header = 4
            elif length == 127:
                if end - pos < 10:
                    break
                length = int.from_bytes(buf[pos + 2 : pos + 10], "big")
                header = 10
            masked = b1 & 0x80
            if masked:
                header += 4
            if end - pos < header + length:
                break
            payload = bytes(buf[pos + header : pos + header + length])
            if masked:  # servers never mask; handle it anyway
                mask = buf[pos + header - 4 : pos + header]
                repeated = (bytes(mask) * (length // 4 + 1))[:length]
                payload = (
                    int.from_bytes(payload, "little") ^ int.from_bytes(repeated, "little")
                ).to_bytes(length, "little")
            pos += header + length
            opcode = b0 & 0x0F
            fin = b0 & 0x80
            if opcode in (OP_TEXT, OP_BINARY, OP_CONT):
                if fin and not self._fragments:
                    out.append(payload)
                else:
                    self._fragments.append(payload)
                    if fin:
                        out.append(b"".join(self._fragments))
                        self._fragments.clear()
            elif opcode == OP_PING:
                self.sock.sendall(self._frame(OP_PONG, payload))
            elif opcode == OP_CLOSE:
                raise WsClosed(f"close frame {payload[:2].hex()}")
        if pos:
            del buf[:pos]
        return out

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass
