"""OS errors are rendered as the reference (a Rust musl build) renders them."""

from __future__ import annotations

import errno
import os

import pytest

from execsrv.protocol.errors import os_error_message


@pytest.mark.parametrize(
    ("number", "text"),
    [
        (errno.ENOENT, "No such file or directory (os error 2)"),
        (errno.EISDIR, "Is a directory (os error 21)"),
        (errno.ENOTEMPTY, "Directory not empty (os error 39)"),
        # musl's wording differs from glibc's for these (seen live from codex: EBUSY, EIO)
        (errno.EBUSY, "Resource busy (os error 16)"),
        (errno.EIO, "I/O error (os error 5)"),
        (errno.ELOOP, "Symbolic link loop (os error 40)"),
        (errno.ENAMETOOLONG, "Filename too long (os error 36)"),
    ],
)
def test_os_error_text_is_musl_strerror(number: int, text: str) -> None:
    assert os_error_message(OSError(number, os.strerror(number))) == text


def test_an_error_without_errno_keeps_its_text() -> None:
    assert os_error_message(OSError("plain")) == "plain"
