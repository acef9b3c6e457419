"""The gzip decoder on its own (sans-IO): bounded pieces, the reqwest rules for
which responses are decoded, and how a body may end."""

from __future__ import annotations

import gzip

import pytest

from execsrv.http import BodyFailed, HeaderMap
from execsrv.http.decoding import GzipDecoder, decoder_for

from .server import pattern


def decode_all(decoder: GzipDecoder, raw: bytes, feed_size: int) -> list[bytes]:
    pieces: list[bytes] = []
    for start in range(0, len(raw), feed_size):
        pieces.append(decoder.feed(raw[start : start + feed_size]))
        while decoder.has_more:
            pieces.append(decoder.more())
    decoder.end()
    return [piece for piece in pieces if piece]


@pytest.mark.parametrize("feed_size", [1, 7, 1 << 20])
def test_pieces_are_bounded_and_whole(feed_size: int) -> None:
    data = bytes(200_000) + pattern(100_000)
    pieces = decode_all(GzipDecoder(max_piece=4096), gzip.compress(data), feed_size)
    assert b"".join(pieces) == data
    assert max(len(piece) for piece in pieces) <= 4096
    if feed_size > 4096:
        assert len(pieces[0]) == 4096  # held back, not all at once


def test_a_cut_stream_fails_at_its_end_and_an_empty_one_does_not() -> None:
    decoder = GzipDecoder(max_piece=1 << 20)
    decoder.feed(gzip.compress(b"abc")[:-4])
    with pytest.raises(BodyFailed):
        decoder.end()
    GzipDecoder(max_piece=1 << 20).end()


def test_what_follows_the_first_member_is_ignored() -> None:
    decoder = GzipDecoder(max_piece=1 << 20)
    assert decoder.feed(gzip.compress(b"one") + gzip.compress(b"two") + b"junk") == b"one"
    assert decoder.finished
    assert decoder.feed(b"more") == b""


def test_corrupt_data_fails() -> None:
    with pytest.raises(BodyFailed):
        GzipDecoder(max_piece=1 << 20).feed(b"\x1f\x8b\x08\x00garbage-garbage")


@pytest.mark.parametrize(
    ("headers", "decoded", "left"),
    [
        (
            [("a", b"1"), ("content-encoding", b"gzip"), ("content-length", b"9"), ("b", b"2")],
            True,
            ["a", "b"],
        ),
        ([("content-encoding", b"gzip"), ("content-length", b"0")], False, None),
        ([("content-encoding", b"GZIP")], False, None),
        ([("content-encoding", b"br"), ("content-encoding", b"gzip")], True, []),
        ([("content-type", b"gzip")], False, None),
    ],
)
def test_which_responses_are_decoded(
    headers: list[tuple[str, bytes]], decoded: bool, left: list[str] | None
) -> None:
    head = HeaderMap(headers)
    assert (decoder_for(head, 1 << 20) is not None) == decoded
    assert [name for name, _ in head] == (left if decoded else [n for n, _ in headers])
