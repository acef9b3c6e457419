"""Filesystem operations for ``fs/*``: blocking, no RPC knowledge.

:mod:`.ops` holds the operations (run them in a worker thread) and
:mod:`.errors` the error kinds the protocol distinguishes.
"""

from .errors import ErrorKind, FsError, kind_of
from .ops import (
    MAX_READ_FILE_BYTES,
    DirectoryEntry,
    FileMetadata,
    FileReader,
    FileWriter,
    copy,
    create_directory,
    get_metadata,
    read_directory,
    read_file,
    remove,
    write_file,
)

__all__ = [
    "MAX_READ_FILE_BYTES",
    "DirectoryEntry",
    "ErrorKind",
    "FileMetadata",
    "FileReader",
    "FileWriter",
    "FsError",
    "copy",
    "create_directory",
    "get_metadata",
    "kind_of",
    "read_directory",
    "read_file",
    "remove",
    "write_file",
]
