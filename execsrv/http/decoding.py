"""Decoding a gzip response body in bounded pieces, as codex 0.171's client does.

codex 0.171 (reqwest with gzip and zstd) offers ``accept-encoding: zstd,gzip`` and
decodes a response whose ``content-encoding`` is exactly ``gzip`` or ``zstd``. The
standard library of the Python execsrv runs on (3.11) has no zstd decoder and
execsrv adds no dependency for one, so it offers and decodes gzip only: a zstd
body could not be decoded, so it is not asked for. Sans-IO.

What reqwest does, and so this does: ``content-encoding`` must be exactly
``gzip`` (``GZIP``, ``x-gzip`` and
``gzip, identity`` pass through undecoded); ``content-length: 0`` is not decoded;
a decoded response loses its ``content-encoding`` and ``content-length`` headers;
an empty body decodes to nothing (HEAD); only the first gzip member is decoded
and whatever follows it is ignored; a corrupt or cut-off stream is an error.
"""

from __future__ import annotations

import zlib
from typing import Final

from .errors import BodyFailed
from .headers import HeaderMap

__all__ = ["ACCEPTED_ENCODINGS", "GzipDecoder", "decoder_for"]

ACCEPTED_ENCODINGS: Final = b"gzip"
"""The ``accept-encoding`` a decoding request sends (codex 0.171: ``zstd,gzip``)."""

_GZIP_WBITS: Final = 16 + zlib.MAX_WBITS


def decoder_for(headers: HeaderMap, max_piece: int) -> GzipDecoder | None:
    """A decoder if the response is gzip-encoded; then its ``content-encoding`` and
    ``content-length`` are removed from ``headers`` (in place)."""
    encoded = any(name == "content-encoding" and value == b"gzip" for name, value in headers)
    if not encoded or headers.get("content-length") == b"0":
        return None
    headers.remove("content-encoding")
    headers.remove("content-length")
    return GzipDecoder(max_piece)


class GzipDecoder:
    """Feed it the raw body; it gives back at most ``max_piece`` decoded bytes per call.

    A gzip bomb costs no more memory than ``max_piece`` plus zlib's window: what
    does not fit in a piece stays compressed until :meth:`more` is asked for it.
    """

    def __init__(self, max_piece: int) -> None:
        self._zlib = zlib.decompressobj(_GZIP_WBITS)
        self._max_piece = max_piece
        self._fed = False
        self._full = False  # the last piece was full: more output may be pending

    @property
    def finished(self) -> bool:
        """The gzip member has ended; anything after it is ignored."""
        return self._zlib.eof

    @property
    def has_more(self) -> bool:
        """Decoded bytes may be waiting: call :meth:`more` before feeding again."""
        return not self._zlib.eof and (self._full or bool(self._zlib.unconsumed_tail))

    def feed(self, data: bytes) -> bytes:
        """Decode the next raw bytes (after :attr:`has_more` is false); maybe ``b""``."""
        assert not self.has_more, "take the pending output with more() first"
        if self._zlib.eof or not data:
            return b""
        self._fed = True
        return self._decode(data)

    def more(self) -> bytes:
        """The next piece of output still held back (``b""`` if there is none)."""
        if self._zlib.eof:
            return b""
        return self._decode(self._zlib.unconsumed_tail)

    def end(self) -> None:
        """The raw body ended: raises :class:`BodyFailed` if the member is incomplete
        (an empty body is fine)."""
        if self._fed and not self._zlib.eof:
            raise BodyFailed

    def _decode(self, data: bytes) -> bytes:
        try:
            piece = self._zlib.decompress(data, self._max_piece)
        except zlib.error as error:
            raise BodyFailed from error
        self._full = len(piece) == self._max_piece
        return piece
