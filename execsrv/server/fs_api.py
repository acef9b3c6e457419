"""``fs/*`` handlers: the reference's checks, then the operation in a worker thread.

The checks come in the reference's order. What it rejects while decoding
params (``-32602``: paths, the ``sandbox`` field) is rejected while decoding
here too (the params types' ``check_params``), before the handshake state is
looked at. The handlers then turn the paths into host paths (either form, see
:mod:`execsrv.protocol.paths`; a ``file:`` URI naming another host is
``-32600``) and reject what the reference's handler rejects (``-32600``: the
base64 of ``fs/writeFile``, then a restricted sandbox profile execsrv cannot
enforce). An operation under a restricted profile runs on a new thread confined
by Landlock (:mod:`execsrv.sandbox`); the others run in a worker thread under the server's
:class:`trio.CapacityLimiter`, so a huge file or directory never blocks the
event loop; it fails with :class:`~execsrv.fs.FsError`,
which :mod:`.errors` maps as the reference does: not found → ``-32004``, invalid
input or permission denied → ``-32600``, anything else → ``-32603``, with Rust's
``<text> (os error N)`` wording.

Reads may be abandoned when their request is cancelled (the thread finishes
on its own); changes (write, create, remove, copy) are waited for, so nothing
is left half-done behind the server's back at shutdown.

``fs/readFile`` and ``fs/writeFile`` never wait in a thread: a FIFO or device
with nothing to read (or no room to write) is waited for with
``trio.lowlevel.wait_readable``/``wait_writable``, which holds no worker thread
and ends at once when the request is cancelled (the client went away, the
server shuts down). Any number of such waits leave the threads to others.
A read's result is encoded into its JSON reply as the file is read, chunk by
chunk in the worker thread (the file's bytes are never held whole beside their
base64), and a large one reserves its bytes in the server's
:class:`~.budget.ByteBudget` until the reply is written.
"""

from __future__ import annotations

import binascii
import enum
import errno
import os
import stat
from collections.abc import Callable
from typing import Final, TypeVar

import msgspec
import trio

from .. import fs
from ..fs import FS_WORKER_THREADS, read_directory_entries, read_metadata, run_fs_operation
from ..fs.handles import FileHandle, FileHandles, open_handle
from ..fs.watch import MissingWatches
from ..protocol import fs as f
from ..protocol.errors import RpcError
from ..protocol.generation import Generation
from ..protocol.methods import FS_MISSING_CHANGED
from ..protocol.params import base64_error
from ..protocol.paths import PathForm, format_path, parse_wire_path
from ..sandbox import FsPolicy, PolicyUnsupported, fs_policy, landlock_abi, run_restricted
from .budget import DEFAULT_REPLY_BUDGET_BYTES, LARGE_REPLY_BYTES, ByteBudget, base64_size
from .call import Call, Peer

__all__ = ["FsApi"]

T = TypeVar("T")

_READ_CHUNK: Final = 3 << 20
"""Bytes read at a time; a multiple of 3, so each chunk is whole base64 quads."""
_RESULT_PREFIX: Final = b'{"dataBase64":"'
_RESULT_SUFFIX: Final = b'"}'


def _check_sandbox(sandbox: f.FileSystemSandboxContext | None) -> f.PermissionProfile | None:
    """The ``sandbox`` field's decoded permissions (its ``-32602`` checks again)."""
    if sandbox is None:
        return None
    profile = sandbox.checked_profile()
    if sandbox.cwd is not None:
        parse_wire_path(sandbox.cwd)
    return profile


def _confinement(sandbox: f.FileSystemSandboxContext | None) -> FsPolicy | None:
    """The policy an operation runs in (None: unconfined, as for a disabled,
    external or unrestricted profile).

    A restricted profile is enforced with Landlock (:mod:`execsrv.sandbox`); one
    the kernel cannot enforce (no Landlock) or Landlock cannot express (an entry
    taking access away inside an allowed area) is refused (``-32600``), never
    run unconfined.
    """
    profile = _check_sandbox(sandbox)
    if profile is None or sandbox is None:
        return None
    cwd = None if sandbox.cwd is None else parse_wire_path(sandbox.cwd).path
    roots = [parse_wire_path(root).path for root in sandbox.workspace_roots or ()]
    try:
        policy = fs_policy(profile, cwd=cwd, env=os.environ, project_roots=roots)
    except PolicyUnsupported:
        raise RpcError.invalid_request(f.SANDBOX_UNSUPPORTED) from None
    if policy is not None and landlock_abi() < 1:
        raise RpcError.invalid_request(f.SANDBOX_UNSUPPORTED)
    return policy


def _with_entry(policy: FsPolicy | None, path: str) -> tuple[FsPolicy | None, bool]:
    """``policy``, also allowing ``path`` to be added or removed when it is a direct
    child of a writable root (not read-only, not a symlink now); and whether it
    is, so the caller opens it without following a symlink swapped in since."""
    root = None if policy is None else policy.writable_root_of(path)
    if policy is None or root is None:
        return policy, False
    try:
        if stat.S_ISLNK(os.lstat(path).st_mode):
            return policy, False
    except OSError:
        pass
    return policy.with_entry_in(root), True


def _new_root_entry(policy: FsPolicy | None, path: str) -> str | None:
    """The ancestor of ``path`` (or ``path``) that is a direct child of a writable root
    and does not exist yet, if there is one."""
    if policy is None:
        return None
    ancestor = path
    while (parent := os.path.dirname(ancestor)) != ancestor:
        if policy.writable_root_of(ancestor) is not None:
            return None if os.path.lexists(ancestor) else ancestor
        ancestor = parent
    return None


def _check_visible(policy: FsPolicy | None, path: str, *, follow: bool) -> None:
    """``ENOENT`` for a path outside ``policy``'s readable area, as codex's sandbox,
    which does not mount it, answers. Landlock does not govern ``stat`` or path
    resolution, so metadata and canonical paths are checked by path (after
    symlinks)."""
    if policy is None:
        return
    if follow:
        real = os.path.realpath(path)
    else:
        real = os.path.join(os.path.realpath(os.path.dirname(path)), os.path.basename(path))
    if not policy.may_read(real):
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), path)


def _decode_base64(text: str) -> bytes:
    """Strict standard base64, as Rust's base64 crate (canonical trailing bits too)."""
    try:
        data: bytes | None = binascii.a2b_base64(text, strict_mode=True)
    except (binascii.Error, ValueError):
        data = None
    if data:  # the last quad must be how its bytes encode: no stray low bits
        tail = data[-(len(data) % 3 or 3) :]
        if binascii.b2a_base64(tail, newline=False) != text[-4:].encode():
            data = None
    if data is None:
        raise RpcError.invalid_request(
            f"fs/writeFile requires valid base64 dataBase64: {base64_error(text)}"
        )
    return data


class _Read(enum.Enum):
    END = "end of file"
    WOULD_BLOCK = "nothing to read now"
    LARGE = "the reply has grown large"


class _Base64Result:
    """The ``fs/readFile`` result as JSON, its base64 appended chunk by chunk."""

    def __init__(self) -> None:
        self.json = bytearray(_RESULT_PREFIX)
        self._carry = b""  # the last 0-2 bytes, until more come or the file ends

    def add(self, chunk: bytes) -> None:
        if self._carry:
            chunk = self._carry + chunk
        whole = len(chunk) - len(chunk) % 3
        self.json += binascii.b2a_base64(memoryview(chunk)[:whole], newline=False)
        self._carry = chunk[whole:]

    def finish(self) -> msgspec.Raw:
        self.json += binascii.b2a_base64(self._carry, newline=False) + _RESULT_SUFFIX
        return msgspec.Raw(self.json)


def _read_into(reader: fs.FileReader, result: _Base64Result, *, stop_at: int | None) -> _Read:
    """Read and encode (in a worker thread) until the end, a read that would
    block, or ``result`` past ``stop_at`` bytes. Stops between chunks when the
    request is cancelled."""
    while stop_at is None or len(result.json) < stop_at:
        trio.from_thread.check_cancelled()
        chunk = reader.read(_READ_CHUNK)
        if chunk is None:
            return _Read.WOULD_BLOCK
        if not chunk:
            return _Read.END
        result.add(chunk)
    return _Read.LARGE


def _write_some(writer: fs.FileWriter, data: memoryview) -> int:
    """One non-blocking write on the event loop (a FIFO or device), failing as
    the worker thread's writes do."""
    try:
        return writer.write(data)
    except OSError as error:
        raise fs.FsError.from_os_error(error) from error


class FsApi:
    """The filesystem methods of one server.

    ``limiter`` bounds the worker threads; ``budget`` bounds the bytes of large
    ``fs/readFile`` replies in flight (shared with ``http/request``).
    """

    def __init__(
        self, limiter: trio.CapacityLimiter | None = None, budget: ByteBudget | None = None
    ) -> None:
        self._limiter = limiter or trio.CapacityLimiter(FS_WORKER_THREADS)
        self.budget = budget or ByteBudget(DEFAULT_REPLY_BUDGET_BYTES)
        self._connections: dict[Peer, _ConnectionFiles] = {}
        """File handles and watches of each connection that has used them."""

    async def _run(
        self,
        function: Callable[[], T],
        *,
        changes: bool,
        policy: FsPolicy | None = None,
        writes: bool | None = None,
    ) -> T:
        """``function`` in a worker thread; with a ``policy``, on a new thread confined
        to it (see :func:`execsrv.sandbox.run_restricted`), where a denial is
        ``EROFS`` if it ``writes`` (default: ``changes``)."""
        if policy is not None:
            confined, denied_as_read_only = policy, changes if writes is None else writes

            def run() -> T:
                return run_restricted(confined, function, changes=denied_as_read_only)

            return await run_fs_operation(run, limiter=self._limiter, changes=changes)
        return await run_fs_operation(function, limiter=self._limiter, changes=changes)

    async def _read(
        self, reader: fs.FileReader, result: _Base64Result, stop_at: int | None
    ) -> _Read:
        # Not abandoned: the reader is closed only once the thread is done with it.
        return await self._run(lambda: _read_into(reader, result, stop_at=stop_at), changes=True)

    async def read_file(self, call: Call[f.FsReadFileParams]) -> msgspec.Raw:
        """The file as a pre-encoded result; waits for a FIFO without a thread.

        A regular file of more than :data:`LARGE_REPLY_BYTES` (as base64)
        reserves its size in the budget before it is read; a FIFO or device
        reads that much unreserved, then reserves the reply's limit. Either
        holds its reservation until the reply is written, so while a FIFO
        that has sent that much stalls, it keeps it.
        """
        params = call.params
        path = parse_wire_path(params.path).path
        policy = _confinement(params.sandbox)
        follow = params.follow_symlinks is not False
        reader = await self._run(
            lambda: fs.FileReader(path, follow_symlinks=follow),
            changes=True,
            policy=policy,
            writes=False,
        )
        reserved = 0
        try:
            if not reader.is_regular:
                _refuse_irregular(path, call.generation, follow=follow)
            result = _Base64Result()
            if reader.is_regular:
                if base64_size(reader.size) >= LARGE_REPLY_BYTES:
                    reserved = await self.budget.acquire(base64_size(reader.size))
                await self._read(reader, result, None)
            else:
                stop_at: int | None = LARGE_REPLY_BYTES
                while (done := await self._read(reader, result, stop_at)) is not _Read.END:
                    if done is _Read.LARGE:
                        reserved = await self.budget.acquire(base64_size(fs.MAX_READ_FILE_BYTES))
                        stop_at = None
                    else:
                        await trio.lowlevel.wait_readable(reader.fd)
            reply = result.finish()
            if reserved:
                self.budget.release_after(reserved, call.replied, call.peer.nursery)
                reserved = 0
            return reply
        finally:
            reader.close()
            if reserved:
                self.budget.release(reserved)

    async def write_file(self, call: Call[f.FsWriteFileParams]) -> f.EmptyResponse:
        """Writes a regular file in a worker thread (waited for, even when cancelled);
        a FIFO or device without room is waited for without a thread, and that wait
        ends when the request is cancelled."""
        params = call.params
        path = parse_wire_path(params.path).path
        _check_sandbox(params.sandbox)
        data = memoryview(_decode_base64(params.data_base64))
        policy, entry = _with_entry(_confinement(params.sandbox), path)
        follow = params.follow_symlinks is not False and not entry
        writer = await self._run(
            lambda: fs.FileWriter(path, follow_symlinks=follow), changes=True, policy=policy
        )
        try:
            if writer.is_regular:
                await self._run(lambda: writer.write(data), changes=True)
            else:
                await trio.lowlevel.checkpoint()
                while data := data[_write_some(writer, data) :]:
                    await trio.lowlevel.wait_writable(writer.fd)
        finally:
            writer.close()
        return f.EmptyResponse()

    async def create_directory(self, call: Call[f.FsCreateDirectoryParams]) -> f.EmptyResponse:
        """A recursive one under a restricted profile whose first new directory is a
        direct child of a writable root makes that one first, on its own (see
        :func:`_with_entry`), then the rest inside it."""
        params = call.params
        path = parse_wire_path(params.path).path
        confinement = _confinement(params.sandbox)
        recursive, follow = params.recursive is not False, params.follow_symlinks is not False
        top = _new_root_entry(confinement, path) if recursive else None
        if top is not None and top != path:
            top_policy, _ = _with_entry(confinement, top)
            await self._run(
                lambda: fs.create_directory(top, recursive=False, follow_symlinks=False),
                changes=True,
                policy=top_policy,
            )
        policy, _ = _with_entry(confinement, path)  # mkdir follows no link
        await self._run(
            lambda: fs.create_directory(path, recursive=recursive, follow_symlinks=follow),
            changes=True,
            policy=policy,
        )
        return f.EmptyResponse()

    async def get_metadata(self, call: Call[f.FsGetMetadataParams]) -> f.FsGetMetadataResponse:
        params = call.params
        path = parse_wire_path(params.path).path
        policy = _confinement(params.sandbox)
        follow = params.follow_symlinks is not False

        def metadata() -> f.FsGetMetadataResponse:
            _check_visible(policy, path, follow=follow)
            return read_metadata(path, follow_symlinks=follow)

        return await self._run(metadata, changes=False, policy=policy)

    async def read_directory(
        self, call: Call[f.FsReadDirectoryParams]
    ) -> f.FsReadDirectoryResponse:
        params = call.params
        path = parse_wire_path(params.path).path
        policy = _confinement(params.sandbox)
        entries = await self._run(
            lambda: read_directory_entries(path), changes=False, policy=policy
        )
        return f.FsReadDirectoryResponse(entries=entries)

    async def remove(self, call: Call[f.FsRemoveParams]) -> f.EmptyResponse:
        params = call.params
        path = parse_wire_path(params.path).path
        policy, _ = _with_entry(_confinement(params.sandbox), path)  # remove follows no link
        recursive, force = params.recursive is not False, params.force is not False
        follow = params.follow_symlinks is not False
        await self._run(
            lambda: fs.remove(path, recursive=recursive, force=force, follow_symlinks=follow),
            changes=True,
            policy=policy,
        )
        return f.EmptyResponse()

    async def copy(self, call: Call[f.FsCopyParams]) -> f.EmptyResponse:
        params = call.params
        source = parse_wire_path(params.source_path).path
        destination = parse_wire_path(params.destination_path).path
        policy = _confinement(params.sandbox)
        recursive = params.recursive
        await self._run(
            lambda: fs.copy(source, destination, recursive=recursive), changes=True, policy=policy
        )
        return f.EmptyResponse()

    async def canonicalize(self, call: Call[f.FsCanonicalizeParams]) -> f.FsCanonicalizeResponse:
        """The canonical path, as a ``file://`` URI whichever form was sent (0.171's)."""
        params = call.params
        path = parse_wire_path(params.path).path
        policy = _confinement(params.sandbox)

        def canonical() -> str:
            _check_visible(policy, path, follow=True)
            return fs.canonicalize(path)

        real = await self._run(canonical, changes=False, policy=policy)
        return f.FsCanonicalizeResponse(path=format_path(real, PathForm.URI))

    async def walk(self, call: Call[f.FsWalkParams]) -> f.FsWalkResponse:
        """The tree under ``path`` (see :func:`execsrv.fs.walk`), paths as ``file://`` URIs.

        The limits are checked before the sandbox and the file system.
        """
        params = call.params
        path = parse_wire_path(params.path).path
        options = params.options
        _check_walk_limits(options)
        policy = _confinement(params.sandbox)
        found = await self._run(
            lambda: fs.walk(
                path,
                max_depth=options.max_depth,
                max_directories=options.max_directories,
                max_entries=options.max_entries,
                follow_directory_symlinks=options.follow_directory_symlinks,
                prune_hidden_directories=options.prune_hidden_directories is True,
            ),
            changes=False,
            policy=policy,
        )
        return f.FsWalkResponse(
            entries=[
                f.FsWalkEntry(path=format_path(p, PathForm.URI), kind=kind)
                for p, kind in found.entries
            ],
            errors=[
                f.FsWalkError(path=format_path(p, PathForm.URI), message=message)
                for p, message in found.errors
            ],
            truncated=found.truncated,
        )

    # -- per-connection state: file handles and missing-path watches ---------------

    async def _files_of(self, peer: Peer) -> _ConnectionFiles:
        """``peer``'s handles and watches, started with it on first use; they end
        (every descriptor closed) when the connection stops serving requests."""
        files = self._connections.get(peer)
        if files is None:
            files = self._connections[peer] = _ConnectionFiles(self._limiter)
            try:
                await peer.start_companion(files.run, lambda: self._forget(peer, files))
            finally:
                files.ready.set()
        await files.ready.wait()
        return files

    def _forget(self, peer: Peer, files: _ConnectionFiles) -> None:
        if self._connections.get(peer) is files:
            del self._connections[peer]

    async def open(self, call: Call[f.FsOpenParams]) -> f.FsOpenResponse:
        """Open a handle: 0.171's id and limit checks, then the sandbox, then the file
        (in a worker thread; never blocks on a FIFO)."""
        params = call.params
        path = parse_wire_path(params.path).path
        handles = (await self._files_of(call.peer)).handles
        reservation = handles.reserve(params.handle_id)
        handle: FileHandle | None = None
        try:
            policy = _confinement(params.sandbox)  # the handle's fd is opened confined
            mode = params.mode
            handle = await self._run(
                lambda: open_handle(path, mode),
                changes=True,
                policy=policy,
                writes=mode == "replace",
            )
        finally:
            handles.opened(params.handle_id, reservation, handle)
        return f.FsOpenResponse(handle_id=params.handle_id)

    async def read_block(self, call: Call[f.FsReadBlockParams]) -> f.FsReadBlockResponse:
        """Read in a worker thread; the handle stays open under it even if closed meanwhile.

        Unlike 0.171, a failed read leaves the handle open (0.171 drops it).
        """
        params = call.params
        if not 1 <= params.len <= f.MAX_BLOCK_BYTES:
            raise RpcError.invalid_request(f.READ_BLOCK_LENGTH)
        handles = (await self._files_of(call.peer)).handles
        offset, length = params.offset, params.len
        with handles.using(params.handle_id) as handle:
            chunk, eof = await self._run(lambda: handle.read_block(offset, length), changes=True)
        return f.FsReadBlockResponse(chunk=chunk, eof=eof)

    async def write_block(self, call: Call[f.FsWriteBlockParams]) -> f.EmptyResponse:
        """Write in a worker thread, waited for even when the request is cancelled."""
        params = call.params
        if not 1 <= len(params.chunk) <= f.MAX_BLOCK_BYTES:
            raise RpcError.invalid_request(f.WRITE_BLOCK_LENGTH)
        handles = (await self._files_of(call.peer)).handles
        offset, data = params.offset, params.chunk
        with handles.using(params.handle_id) as handle:
            await self._run(lambda: handle.write_block(offset, data), changes=True)
        return f.EmptyResponse()

    async def close(self, call: Call[f.FsCloseParams]) -> f.EmptyResponse:
        files = self._connections.get(call.peer)
        if files is not None:
            files.handles.close(call.params.handle_id)
        return f.EmptyResponse()

    async def watch_missing(self, call: Call[f.FsWatchMissingParams]) -> f.FsWatchMissingResponse:
        """Start a one-shot watch (see :class:`execsrv.fs.watch.MissingWatches`); its
        ``fs/missingChanged`` goes to this connection."""
        params = call.params
        missing = [parse_wire_path(path).path for path in params.missing]
        present = None if params.present is None else parse_wire_path(params.present).path
        watches = (await self._files_of(call.peer)).watches
        peer, watch_id = call.peer, params.watch_id

        async def fire() -> None:
            notification = f.FsMissingChangedNotification(watch_id=watch_id)
            await peer.notify(FS_MISSING_CHANGED, notification)

        watching = await watches.watch(watch_id, missing, present, fire)
        return f.FsWatchMissingResponse(watching=watching)


class _ConnectionFiles:
    """One connection's file handles and missing-path watches."""

    def __init__(self, limiter: trio.CapacityLimiter) -> None:
        self.handles = FileHandles()
        self.watches = MissingWatches(limiter)
        self.ready = trio.Event()
        """Set once :meth:`run` has started (or failed to)."""

    async def run(
        self,
        ended: Callable[[], None],
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Until cancelled (the connection's end): then close every handle, end every
        watch (no notification) and close the inotify descriptor."""
        try:
            await self.watches.run(task_status=task_status)
        finally:
            ended()
            self.handles.close_all()


def _refuse_irregular(path: str, generation: Generation, *, follow: bool) -> None:
    """0.171 reads only regular files; 0.130 reads a FIFO or device (execsrv without
    blocking) and fails on a directory as ``read`` does (``EISDIR``)."""
    if not follow:
        raise fs.FsError(fs.ErrorKind.INVALID_INPUT, fs.NOT_A_REGULAR_FILE)
    if generation is Generation.V0_171:
        raise fs.FsError(fs.ErrorKind.INVALID_INPUT, f.NOT_A_FILE.format(path=path))


def _check_walk_limits(options: f.FsWalkOptions) -> None:
    """0.171's ``-32600`` for limits above the maxima or a zero directory/entry limit."""
    if (
        options.max_depth > f.WALK_MAX_DEPTH
        or options.max_directories > f.WALK_MAX_DIRECTORIES
        or options.max_entries > f.WALK_MAX_ENTRIES
    ):
        raise RpcError.invalid_request(f.WALK_LIMITS_TOO_LARGE)
    if options.max_directories == 0 or options.max_entries == 0:
        raise RpcError.invalid_request(f.WALK_LIMITS_NOT_POSITIVE)
