"""Detach and resume end to end: real sockets, real children.

The TTL itself (a detached session lives exactly that long, its children then die)
is checked exactly, on the autojump clock, in ``test_timing.py``.
"""

from __future__ import annotations

import socket
from functools import partial

import trio
import wsproto
import wsproto.events

import execsrv
from execsrv.protocol import process as p
from execsrv.protocol.methods import PROCESS_READ, PROCESS_WRITE

from ..conftest import CHILD_ENV
from ..wire import open_wire


async def test_resume_within_ttl_keeps_processes_and_output(nursery: trio.Nursery) -> None:
    config = execsrv.ServerConfig(session_ttl=30, kill_grace=0.5)
    server = await nursery.start(partial(execsrv.serve, "ws://127.0.0.1:0", config=config))
    with trio.fail_after(20):
        async with open_wire(server.url) as wire:
            session_id = await wire.handshake()
            await wire.request(
                "process/start",
                {
                    "processId": "c",
                    "argv": ["cat"],
                    "cwd": "/",
                    "env": CHILD_ENV,
                    "tty": False,
                    "pipeStdin": True,
                },
            )
            await wire.request("process/write", {"processId": "c", "chunk": "b25lCg=="})
            await wire.next_notification("process/output")
        async with execsrv.connect(server.url, resume_session_id=session_id) as client:
            assert client.session_id == session_id
            [info] = await client.list_processes()
            assert info.process_id == "c"
            assert info.running
            # Not started by this client: no handle, so by the method constants.
            write = p.WriteParams(process_id="c", chunk=b"two\n")
            assert (await client.call(PROCESS_WRITE, write)).status == "accepted"
            long_poll = p.ReadParams(process_id="c", after_seq=1, wait_ms=5000)  # for seq 2
            await client.call(PROCESS_READ, long_poll)
            read = await client.call(PROCESS_READ, p.ReadParams(process_id="c", after_seq=0))
            assert [(c.seq, c.chunk) for c in read.chunks] == [(1, b"one\n"), (2, b"two\n")]


async def test_a_peer_that_stops_answering_pings_is_detached(nursery: trio.Nursery) -> None:
    config = execsrv.ServerConfig(ping_interval=0.1, pong_timeout=0.2, kill_grace=0.5)
    server = await nursery.start(partial(execsrv.serve, "ws://127.0.0.1:0", config=config))
    # A raw websocket client that completes the handshake, initializes, and then
    # never reads again: its pings go unanswered, as with a half-open peer.
    with trio.fail_after(20), socket.create_connection(("127.0.0.1", server.port)) as sock:
        peer = wsproto.WSConnection(wsproto.ConnectionType.CLIENT)
        sock.sendall(peer.send(wsproto.events.Request(host="127.0.0.1", target="/")))
        response = b""
        while b"\r\n\r\n" not in response:
            response += await trio.to_thread.run_sync(sock.recv, 4096)
        assert b" 101 " in response.split(b"\r\n", 1)[0]
        peer.receive_data(response)
        list(peer.events())
        init = '{"id":1,"method":"initialize","params":{"clientName":"mute"}}'
        sock.sendall(peer.send(wsproto.events.TextMessage(data=init)))
        sock.sendall(peer.send(wsproto.events.TextMessage(data='{"method":"initialized"}')))
        reply = b""
        while b"sessionId" not in reply:
            reply += await trio.to_thread.run_sync(sock.recv, 4096)
        session_id = reply.split(b'"sessionId":"')[1].split(b'"')[0].decode()
        session = server.registry.lookup(session_id)
        assert session is not None
        assert session.attachment is not None
        # Stop reading. The server pings, gets no pong, and detaches the session.
        await session.wait_detached()
        assert session.attachment is None
        assert server.registry.lookup(session_id) is session  # detached, not expired
