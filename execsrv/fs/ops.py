"""The operations behind ``fs/*``, as plain blocking functions.

They take absolute, already normalised paths (the protocol layer checks
them) and behave as the reference's local file system (Rust ``std::fs``):

- metadata type flags follow symlinks, ``is_symlink`` comes from ``lstat``; a
  dangling symlink is "not found";
- ``read_directory`` leaves out entries whose metadata cannot be read;
- ``remove`` never follows a symlink; ``copy`` copies a symlink as a symlink,
  merges into an existing directory, and skips entries of other types inside
  a directory;
- recursive ``create_directory`` is ``create_dir_all``, step for step.

Where execsrv does better (DESIGN.md §1.1.4): copying a file onto itself (or
onto a link to itself) leaves it intact, where the reference truncates it.
Where the reference would block forever or exhaust memory, execsrv does not:
files are opened without blocking (a write with no reader fails with
``ENXIO``); :class:`FileReader` and :class:`FileWriter` never block on a FIFO
or device (they say "would block" and the caller waits for readiness without
a thread); reading stops at the size limit even when the file is larger than
its metadata said (``/dev/zero``).

Failures are :class:`OSError` from the OS or :class:`~.errors.FsError`. Run
these in a worker thread: a huge file or directory takes as long as it takes.
"""

from __future__ import annotations

import errno
import heapq
import os
import stat
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Final, Literal

from ..protocol.errors import os_error_message
from ..protocol.fs import NOT_A_FILE
from .errors import ErrorKind, FsError

__all__ = [
    "COPY_DIRECTORY_NEEDS_RECURSIVE",
    "COPY_INTO_ITSELF",
    "COPY_UNSUPPORTED_TYPE",
    "MAX_READ_FILE_BYTES",
    "NOT_A_REGULAR_FILE",
    "NO_FOLLOW_RECURSIVE_REMOVE",
    "NUL_IN_PATH",
    "SYMLINK_IN_PATH",
    "TOO_LARGE",
    "DirectoryEntry",
    "FileMetadata",
    "FileReader",
    "FileWriter",
    "WalkResult",
    "canonicalize",
    "copy",
    "create_directory",
    "get_metadata",
    "read_directory",
    "read_file",
    "remove",
    "walk",
    "write_file",
]

MAX_READ_FILE_BYTES: Final = 512 * 1024 * 1024
"""The reference's limit for ``fs/readFile``."""

TOO_LARGE: Final = "file is too large to read: limit is {limit} bytes"
NUL_IN_PATH: Final = "file name contained an unexpected NUL byte"
COPY_DIRECTORY_NEEDS_RECURSIVE: Final = (
    "fs/copy requires recursive: true when sourcePath is a directory"
)
COPY_INTO_ITSELF: Final = "fs/copy cannot copy a directory to itself or one of its descendants"
COPY_UNSUPPORTED_TYPE: Final = "fs/copy only supports regular files, directories, and symlinks"
SYMLINK_IN_PATH: Final = "path contains a symbolic link"
"""InvalidInput: ``getMetadata``/``remove`` without following symlinks, of a symlink."""
NOT_A_REGULAR_FILE: Final = "path is not a regular file"
"""InvalidInput: ``readFile`` without following symlinks, of something else."""
NO_FOLLOW_RECURSIVE_REMOVE: Final = "recursive no-follow removal is unsupported"
"""Other: 0.171 refuses a recursive ``remove`` that must not follow symlinks."""
_NOT_A_REGULAR_FILE: Final = (
    "the source path is neither a regular file nor a symlink to a regular file"
)

_READ_CHUNK: Final = 1 << 20
_COPY_CHUNK: Final = 1 << 30
_NO_COPY_FILE_RANGE: Final = frozenset(
    {errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.EPERM, errno.EBADF}
)


@dataclass(frozen=True, slots=True)
class FileMetadata:
    is_directory: bool
    is_file: bool
    is_symlink: bool
    size: int
    created_at_ms: int
    modified_at_ms: int


@dataclass(frozen=True, slots=True)
class DirectoryEntry:
    file_name: str
    is_directory: bool
    is_file: bool


def _check(*paths: str) -> None:
    """Rust refuses a path with a NUL byte before any system call (InvalidInput)."""
    for path in paths:
        if "\0" in path:
            raise FsError(ErrorKind.INVALID_INPUT, NUL_IN_PATH)


_WALK_FLAGS: Final = os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def _open_parent(path: str) -> tuple[int, str]:
    """The directory holding ``path`` (an ``O_PATH`` fd), reached without following any
    symlink, and the last name in ``path``. A symlink or a file on the way is
    ``ENOTDIR``, as in 0.171 with ``followSymlinks: false``."""
    names = [name for name in path.split("/") if name]
    fd = os.open("/", _WALK_FLAGS)
    try:
        for name in names[:-1]:
            child = os.open(name, _WALK_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = child
    except BaseException:
        os.close(fd)
        raise
    return fd, names[-1] if names else "."


def _open_file(path: str, flags: int, *, follow_symlinks: bool) -> int:
    """``open(path, flags)``; without ``follow_symlinks``, no component may be a symlink
    (the last one fails with ``ELOOP``, the others with ``ENOTDIR``)."""
    if follow_symlinks:
        return os.open(path, flags, 0o666)
    parent, name = _open_parent(path)
    try:
        return os.open(name, flags | os.O_NOFOLLOW, 0o666, dir_fd=parent)
    finally:
        os.close(parent)


class FileReader:
    """A file opened for ``fs/readFile`` whose reads never block.

    The descriptor is non-blocking (``O_NONBLOCK``): a FIFO or device with no
    data makes :meth:`read` return None instead of taking a thread hostage, and
    the caller waits for readability its own way (``trio.lowlevel.wait_readable``
    on :attr:`fd`). A regular file never returns None. Reading past ``limit``
    bytes raises the too-large error, whatever the metadata said (``/dev/zero``).
    """

    def __init__(
        self, path: str, *, limit: int = MAX_READ_FILE_BYTES, follow_symlinks: bool = True
    ) -> None:
        _check(path)
        self._too_large = FsError(ErrorKind.INVALID_INPUT, TOO_LARGE.format(limit=limit))
        self._limit = limit
        self._total = 0
        flags = os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK
        self.fd = _open_file(path, flags, follow_symlinks=follow_symlinks)
        try:
            info = os.fstat(self.fd)
            self.is_regular = stat.S_ISREG(info.st_mode)
            """A regular file: its reads never return None."""
            self.size = info.st_size if self.is_regular else 0
            """The size the metadata gave; the file may still grow or shrink."""
            if self.size > limit:
                raise self._too_large
        except BaseException:
            os.close(self.fd)
            raise

    def read(self, max_bytes: int) -> bytes | None:
        """Up to ``max_bytes``; ``b""`` at the end, None when a read would block."""
        try:
            chunk = os.read(self.fd, min(max_bytes, self._limit + 1 - self._total))
        except BlockingIOError:
            return None
        self._total += len(chunk)
        if self._total > self._limit:
            raise self._too_large
        return chunk

    def close(self) -> None:
        os.close(self.fd)


def read_file(path: str, *, limit: int = MAX_READ_FILE_BYTES, regular_only: bool = False) -> bytes:
    """The whole file, blocking until it ends; more than ``limit`` bytes is an
    InvalidInput error, and so is anything but a regular file with ``regular_only``
    (codex 0.171's rule: ``path `<path>` is not a file``). A server uses
    :class:`FileReader` instead."""
    reader = FileReader(path, limit=limit)
    try:
        if regular_only and not reader.is_regular:
            raise FsError(ErrorKind.INVALID_INPUT, NOT_A_FILE.format(path=path))
        os.set_blocking(reader.fd, True)
        chunks: list[bytes] = []
        # One read for a regular file (its size, + 1 to see the end); then chunks.
        want = reader.size + 1 if reader.is_regular else _READ_CHUNK
        while chunk := reader.read(want):
            chunks.append(chunk)
            want = _READ_CHUNK
    finally:
        reader.close()
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


class FileWriter:
    """A file opened for ``fs/writeFile``: created or truncated, never blocking.

    Opening a FIFO with no reader fails with ``ENXIO`` (where the reference
    would block). :meth:`write` writes what fits and returns how much; for a
    FIFO or device that is 0 while it is full, and the caller waits for
    writability its own way (on :attr:`fd`). A regular file takes everything.
    """

    def __init__(self, path: str, *, follow_symlinks: bool = True) -> None:
        _check(path)
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC | os.O_NONBLOCK
        self.fd = _open_file(path, flags, follow_symlinks=follow_symlinks)
        try:
            self.is_regular = stat.S_ISREG(os.fstat(self.fd).st_mode)
        except BaseException:
            os.close(self.fd)
            raise

    def write(self, data: memoryview) -> int:
        """Write from ``data``; the number of bytes written (all, for a regular file)."""
        if self.is_regular:
            _write_all(self.fd, data)
            return len(data)
        written = 0
        try:
            while written < len(data):
                written += os.write(self.fd, data[written:])
        except BlockingIOError:
            pass
        return written

    def close(self) -> None:
        os.close(self.fd)


def write_file(path: str, data: bytes) -> None:
    """Create or truncate ``path`` and write ``data``, blocking until done; parents
    are not created. A server uses :class:`FileWriter` instead."""
    writer = FileWriter(path)
    try:
        os.set_blocking(writer.fd, True)
        _write_all(writer.fd, data)
    finally:
        writer.close()


def _write_all(fd: int, data: bytes | memoryview) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def create_directory(path: str, *, recursive: bool, follow_symlinks: bool = True) -> None:
    """``mkdir``; with ``recursive``, Rust's ``create_dir_all``.

    That creates missing parents and accepts an existing directory (or a
    symlink to one), but fails with ``EEXIST`` on a file or a dangling symlink.
    Without ``follow_symlinks`` (0.171) a symlink or file anywhere in the path
    is ``ENOTDIR`` (an existing last name, without ``recursive``: ``EEXIST``).
    """
    _check(path)
    if not follow_symlinks:
        _create_directory_no_follow(path, recursive=recursive)
        return
    if not recursive:
        os.mkdir(path)
        return
    missing: list[str] = []
    current = path
    while True:
        try:
            os.mkdir(current)
            break
        except FileNotFoundError:
            parent = os.path.dirname(current)
            if parent == current:
                raise FsError(ErrorKind.OTHER, "failed to create whole tree") from None
            missing.append(current)
            current = parent
        except OSError:
            if os.path.isdir(current):
                break
            raise
    for directory in reversed(missing):
        try:
            os.mkdir(directory)
        except OSError:
            if not os.path.isdir(directory):
                raise


def _create_directory_no_follow(path: str, *, recursive: bool) -> None:
    if not recursive:
        parent, name = _open_parent(path)
        try:
            os.mkdir(name, dir_fd=parent)
        finally:
            os.close(parent)
        return
    fd = os.open("/", _WALK_FLAGS)
    try:
        for name in (name for name in path.split("/") if name):
            try:
                child = os.open(name, _WALK_FLAGS, dir_fd=fd)
            except FileNotFoundError:
                try:
                    os.mkdir(name, dir_fd=fd)
                except FileExistsError:  # made meanwhile: opened below
                    pass
                child = os.open(name, _WALK_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = child
    finally:
        os.close(fd)


def get_metadata(path: str, *, follow_symlinks: bool = True) -> FileMetadata:
    """Type flags and times of the target; ``is_symlink`` of ``path`` itself.

    Without ``follow_symlinks`` (0.171) a symlink anywhere in the path is refused:
    the last name with :data:`SYMLINK_IN_PATH`, the others with ``ENOTDIR``.
    """
    _check(path)
    if not follow_symlinks:
        parent, name = _open_parent(path)
        try:
            info = link = os.stat(name, dir_fd=parent, follow_symlinks=False)
        finally:
            os.close(parent)
        if stat.S_ISLNK(link.st_mode):
            raise FsError(ErrorKind.INVALID_INPUT, SYMLINK_IN_PATH)
    else:
        info = os.stat(path)
        link = os.lstat(path)
    return FileMetadata(
        is_directory=stat.S_ISDIR(info.st_mode),
        is_file=stat.S_ISREG(info.st_mode),
        is_symlink=stat.S_ISLNK(link.st_mode),
        size=info.st_size,
        created_at_ms=0,  # Linux has no birth time in stat(2); the reference reports 0 too
        modified_at_ms=max(info.st_mtime_ns // 1_000_000, 0),
    )


def read_directory(path: str) -> list[DirectoryEntry]:
    """The entries, in the OS's order; those whose metadata fails are left out."""
    _check(path)
    entries: list[DirectoryEntry] = []
    with os.scandir(path) as iterator:
        for entry in iterator:
            try:
                if entry.is_symlink():
                    info = entry.stat()  # follows: a dangling link raises and is dropped
                    is_directory, is_file = stat.S_ISDIR(info.st_mode), stat.S_ISREG(info.st_mode)
                else:  # the type readdir reported; no system call
                    is_directory = entry.is_dir(follow_symlinks=False)
                    is_file = entry.is_file(follow_symlinks=False)
            except OSError:
                continue
            name = entry.name
            if not name.isascii():  # Rust's to_string_lossy: invalid UTF-8 becomes U+FFFD
                name = os.fsencode(name).decode("utf-8", "replace")
            entries.append(DirectoryEntry(name, is_directory, is_file))
    return entries


def remove(path: str, *, recursive: bool, force: bool, follow_symlinks: bool = True) -> None:
    """Unlink a file or symlink, or remove a directory (with its contents if ``recursive``).

    A missing ``path`` is fine with ``force``. Without ``follow_symlinks`` (0.171)
    a recursive removal is refused (:data:`NO_FOLLOW_RECURSIVE_REMOVE`), and a
    symlink anywhere in the path too (the last name: :data:`SYMLINK_IN_PATH`, the
    others ``ENOTDIR``).
    """
    _check(path)
    if not follow_symlinks:
        _remove_no_follow(path, recursive=recursive, force=force)
        return
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        if force:
            return
        raise
    if not stat.S_ISDIR(info.st_mode):
        os.unlink(path)
    elif recursive:
        _remove_tree(path)
    else:
        os.rmdir(path)


def _remove_no_follow(path: str, *, recursive: bool, force: bool) -> None:
    if recursive:
        raise FsError(ErrorKind.OTHER, NO_FOLLOW_RECURSIVE_REMOVE)
    try:
        parent, name = _open_parent(path)
        try:
            info = os.stat(name, dir_fd=parent, follow_symlinks=False)
            if stat.S_ISLNK(info.st_mode):
                raise FsError(ErrorKind.INVALID_INPUT, SYMLINK_IN_PATH)
            if stat.S_ISDIR(info.st_mode):
                os.rmdir(name, dir_fd=parent)
            else:
                os.unlink(name, dir_fd=parent)
        finally:
            os.close(parent)
    except FileNotFoundError:
        if not force:
            raise


_DIRECTORY_FLAGS: Final = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def _remove_tree(path: str) -> None:
    """Rust's ``remove_dir_all``: never follows a symlink, at any depth.

    Directories are opened relative to their parent without following
    symlinks, so a directory swapped for a symlink meanwhile is not entered.
    It walks back up through ``..`` and checks it arrives where it came from,
    so only one directory is open at a time, however deep the tree (Python's
    ``shutil.rmtree`` recurses and fails past about 1000 levels).
    """
    fd = os.open(path, _DIRECTORY_FLAGS)
    try:
        pending = _clear_directory(fd)
        ancestors: list[tuple[tuple[int, int], list[str], str]] = []
        while True:
            if pending:
                name = pending.pop()
                try:
                    child = os.open(name, _DIRECTORY_FLAGS, dir_fd=fd)
                except FileNotFoundError:
                    continue  # removed by someone else meanwhile
                info = os.fstat(fd)
                ancestors.append(((info.st_dev, info.st_ino), pending, name))
                os.close(fd)
                fd = child
                pending = _clear_directory(fd)
                continue
            if not ancestors:
                break
            identity, pending, name = ancestors.pop()
            parent = os.open("..", _DIRECTORY_FLAGS, dir_fd=fd)
            info = os.fstat(parent)
            os.close(fd)
            fd = parent
            if (info.st_dev, info.st_ino) != identity:
                raise FsError(ErrorKind.OTHER, f"directory moved during removal: {path}")
            try:
                os.rmdir(name, dir_fd=fd)
            except FileNotFoundError:
                pass
    finally:
        os.close(fd)
    os.rmdir(path)


def _clear_directory(fd: int) -> list[str]:
    """Unlink everything in the directory but its subdirectories; return their names."""
    subdirectories: list[str] = []
    with os.scandir(fd) as iterator:
        for entry in iterator:
            if entry.is_dir(follow_symlinks=False):
                subdirectories.append(entry.name)
                continue
            try:
                os.unlink(entry.name, dir_fd=fd)
            except FileNotFoundError:
                pass
    return subdirectories


def copy(source: str, destination: str, *, recursive: bool) -> None:
    """Copy a file, a symlink (as a symlink) or, with ``recursive``, a directory tree."""
    _check(source, destination)
    info = os.lstat(source)
    if stat.S_ISDIR(info.st_mode):
        if not recursive:
            raise FsError(ErrorKind.INVALID_INPUT, COPY_DIRECTORY_NEEDS_RECURSIVE)
        if _is_same_or_descendant(source, destination):
            raise FsError(ErrorKind.INVALID_INPUT, COPY_INTO_ITSELF)
        _copy_tree(source, destination)
    elif stat.S_ISLNK(info.st_mode):
        _copy_symlink(source, destination)
    elif stat.S_ISREG(info.st_mode):
        _copy_file(source, destination)
    else:
        raise FsError(ErrorKind.INVALID_INPUT, COPY_UNSUPPORTED_TYPE)


def _is_same_or_descendant(source: str, destination: str) -> bool:
    """Compare real paths: the source's, and the destination's existing part's."""
    real_source = os.path.realpath(source, strict=True)
    suffix: list[str] = []
    existing = destination
    while not os.path.exists(existing):
        parent, name = os.path.split(existing)
        if not name:
            break
        suffix.append(name)
        existing = parent
    real_destination = os.path.join(os.path.realpath(existing, strict=True), *reversed(suffix))
    return real_destination == real_source or real_destination.startswith(
        real_source.rstrip("/") + "/"
    )


def _copy_tree(source: str, destination: str) -> None:
    """Merge ``source`` into ``destination``; entries of other types are skipped."""
    pending = [(source, destination)]
    while pending:
        from_dir, to_dir = pending.pop()
        create_directory(to_dir, recursive=True)
        with os.scandir(from_dir) as iterator:
            for entry in iterator:
                target = os.path.join(to_dir, entry.name)
                if entry.is_dir(follow_symlinks=False):
                    pending.append((entry.path, target))
                elif entry.is_file(follow_symlinks=False):
                    _copy_file(entry.path, target)
                elif entry.is_symlink():
                    _copy_symlink(entry.path, target)


def _copy_symlink(source: str, destination: str) -> None:
    os.symlink(os.readlink(source), destination)


def _copy_file(source: str, destination: str) -> None:
    """Rust's ``fs::copy``: contents and permission bits, onto a new or truncated file."""
    src = os.open(source, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
    try:
        info = os.fstat(src)
        if not stat.S_ISREG(info.st_mode):
            raise FsError(ErrorKind.INVALID_INPUT, _NOT_A_REGULAR_FILE)
        try:
            existing = os.stat(destination)
        except OSError:
            pass
        else:
            if (existing.st_dev, existing.st_ino) == (info.st_dev, info.st_ino):
                return  # the same file: truncating it would lose it (DESIGN.md §1.1.4)
        mode = stat.S_IMODE(info.st_mode)
        # O_NONBLOCK: a FIFO destination fails (ENXIO, EAGAIN) instead of blocking forever
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC | os.O_NONBLOCK
        dst = os.open(destination, flags, mode)
        try:
            if stat.S_ISREG(os.fstat(dst).st_mode):
                os.fchmod(dst, mode)
            os.set_blocking(src, True)
            _copy_bytes(src, dst)
        finally:
            os.close(dst)
    finally:
        os.close(src)


def _copy_bytes(src: int, dst: int) -> None:
    """In the kernel where it can (``copy_file_range``), else read and write."""
    try:
        copied = 0
        while n := os.copy_file_range(src, dst, _COPY_CHUNK):
            copied += n
        if copied:
            return
        # 0 at once: empty, or a file whose size the kernel does not know (procfs).
    except OSError as error:
        if error.errno not in _NO_COPY_FILE_RANGE:
            raise
    while chunk := os.read(src, _READ_CHUNK):  # from where copy_file_range stopped
        _write_all(dst, chunk)


def canonicalize(path: str) -> str:
    """``path`` with every symlink, ``.`` and ``..`` resolved (Rust's ``canonicalize``).

    A missing path or a dangling symlink is ``ENOENT``; a symlink loop ``ELOOP``.
    """
    _check(path)
    return os.path.realpath(path, strict=True)


WalkKind = Literal["file", "directory"]


@dataclass(slots=True)
class WalkResult:
    """What :func:`walk` found: ``(path, kind)`` entries in order, ``(path, message)``
    errors, and whether a limit left something out."""

    entries: list[tuple[str, WalkKind]] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)
    truncated: bool = False


def walk(
    root: str,
    *,
    max_depth: int,
    max_directories: int,
    max_entries: int,
    follow_directory_symlinks: bool,
    prune_hidden_directories: bool,
) -> WalkResult:
    """The tree under ``root``, breadth-first, each directory's entries sorted by name.

    The root is not listed; its children are at depth 0, and a directory
    deeper than ``max_depth`` is listed but not read. Symlinks are left out
    unless ``follow_directory_symlinks`` and they name a directory, which is
    then listed as one and read (unless it is the directory holding the link or
    one above it: a loop is listed, not read); dangling symlinks and entries
    that are neither files nor directories are left out. With
    ``prune_hidden_directories`` a directory named ``.*`` is listed, not read.
    A directory below the root that cannot be read is an error entry; the
    root itself fails the call (``ENOENT`` when missing), and a file root gives
    nothing. At most ``max_directories`` directories are read (the root
    included) and ``max_entries`` listed; reaching either with more to do sets
    ``truncated``. Memory stays within the limits: of one huge directory only
    the first entries still wanted are kept, and at most ``max_entries``
    directories wait to be read.
    """
    _check(root)
    result = WalkResult()
    if not stat.S_ISDIR(os.stat(root).st_mode):
        return result
    pending: deque[tuple[str, int]] = deque([(root, -1)])
    read = 0
    while pending:
        directory, depth = pending.popleft()
        if read == max_directories:
            result.truncated = True
            break
        read += 1
        wanted = max_entries - len(result.entries)
        try:
            children = heapq.nsmallest(
                wanted + 1, _walk_children(directory, follow_directory_symlinks)
            )
        except OSError as error:
            if directory == root:
                raise
            result.errors.append((directory, os_error_message(error)))
            continue
        if len(children) > wanted:
            result.truncated = True
            children = children[:wanted]
        prefix = directory.rstrip("/") + "/"
        for name, kind, is_link in children:
            path = prefix + os.fsdecode(name)
            result.entries.append((path, kind))
            if kind != "directory" or depth + 1 >= max_depth:
                continue
            if prune_hidden_directories and name.startswith(b"."):
                continue
            if is_link and _is_loop(directory, path):
                continue
            pending.append((path, depth + 1))
        if result.truncated:
            break
    return result


def _is_loop(directory: str, link: str) -> bool:
    """Whether ``link`` (in ``directory``) leads to ``directory`` or one above it."""
    try:
        here, target = os.path.realpath(directory), os.path.realpath(link)
    except OSError:
        return True
    return here == target or here.startswith(target.rstrip("/") + "/")


def _walk_children(directory: str, follow_symlinks: bool) -> Iterator[tuple[bytes, WalkKind, bool]]:
    """The entries :func:`walk` lists in ``directory``, unsorted: (name, kind, is a symlink)."""
    with os.scandir(directory) as iterator:
        for entry in iterator:
            try:
                is_link = entry.is_symlink()
                if is_link:
                    if not follow_symlinks or not entry.is_dir(follow_symlinks=True):
                        continue  # not followed, dangling, or not a directory
                    kind: WalkKind = "directory"
                elif entry.is_dir(follow_symlinks=False):
                    kind = "directory"
                elif entry.is_file(follow_symlinks=False):
                    kind = "file"
                else:
                    continue
            except OSError:
                continue
            yield os.fsencode(entry.name), kind, is_link
