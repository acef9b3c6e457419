"""Filesystem operations for ``fs/*``, with no RPC knowledge.

:mod:`.ops` holds the operations, :mod:`.worker` runs them in a worker
thread, and :mod:`.errors` has the error kinds the protocol distinguishes.
"""

from .errors import ErrorKind, FsError, kind_of
from .ops import (
    MAX_READ_FILE_BYTES,
    NOT_A_REGULAR_FILE,
    DirectoryEntry,
    FileMetadata,
    FileReader,
    FileWriter,
    WalkResult,
    canonicalize,
    copy,
    create_directory,
    get_metadata,
    read_directory,
    read_file,
    remove,
    walk,
    write_file,
)
from .worker import FS_WORKER_THREADS, read_directory_entries, read_metadata, run_fs_operation

__all__ = [
    "FS_WORKER_THREADS",
    "MAX_READ_FILE_BYTES",
    "NOT_A_REGULAR_FILE",
    "DirectoryEntry",
    "ErrorKind",
    "FileMetadata",
    "FileReader",
    "FileWriter",
    "FsError",
    "WalkResult",
    "canonicalize",
    "copy",
    "create_directory",
    "get_metadata",
    "kind_of",
    "read_directory",
    "read_directory_entries",
    "read_file",
    "read_metadata",
    "remove",
    "run_fs_operation",
    "walk",
    "write_file",
]
