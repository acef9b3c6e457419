"""Processes (and files) on an exec-server, over a connected :class:`~execsrv.Client`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ..client import Client, RemoteFileSystem, RemoteProcess
from ..protocol import process as p
from .base import ExecBackend

__all__ = ["RemoteBackend"]


class RemoteBackend(RemoteFileSystem, ExecBackend):
    """Processes in ``client``'s session and files on its server; its lifetime is
    the client's.

    The file methods are :class:`~execsrv.client.RemoteFileSystem`'s, and
    :meth:`start` returns the client's own :class:`~execsrv.RemoteProcess`.
    """

    def __init__(self, client: Client) -> None:
        super().__init__(client)
        self.client = client

    async def start(
        self,
        argv: Sequence[str],
        *,
        cwd: str,
        env: Mapping[str, str] | None = None,
        env_policy: p.EnvPolicy | None = None,
        tty: bool = False,
        pipe_stdin: bool = False,
        pty_size: tuple[int, int] | None = None,
        timeout_ms: int | None = None,
        process_id: str | None = None,
    ) -> RemoteProcess:
        return await self.client.start_process(
            argv,
            process_id=process_id,
            cwd=cwd,
            env=env,
            env_policy=env_policy,
            tty=tty,
            pipe_stdin=pipe_stdin,
            pty_size=pty_size,
            timeout_ms=timeout_ms,
        )
