"""LineFramer: newline-delimited JSON for stdio (spec §1.3), with a bounded buffer."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from execsrv.protocol.framing import LineFramer, MessageTooLarge


def test_one_line_per_message() -> None:
    framer = LineFramer(1024)
    assert framer.receive_data(b'{"a":1}\n{"b":2}\n') == [b'{"a":1}', b'{"b":2}']
    assert framer.pending == b""


def test_blank_and_whitespace_only_lines_are_skipped() -> None:
    framer = LineFramer(1024)
    data = b'\n\n   \n\t\n{"a":1}\n \r\n\n{"b":2}\n\r\n'
    assert framer.receive_data(data) == [b'{"a":1}', b'{"b":2}']


def test_crlf_is_tolerated() -> None:
    framer = LineFramer(1024)
    assert framer.receive_data(b'{"a":1}\r\n{"b":2}\r\n') == [b'{"a":1}', b'{"b":2}']


def test_surrounding_whitespace_is_stripped() -> None:
    framer = LineFramer(1024)
    assert framer.receive_data(b'  {"a":1}  \t\r\n') == [b'{"a":1}']


def test_line_split_across_feeds() -> None:
    framer = LineFramer(1024)
    assert framer.receive_data(b'{"a"') == []
    assert framer.pending == b'{"a"'
    assert framer.receive_data(b":1") == []
    assert framer.receive_data(b"}\r") == []
    assert framer.receive_data(b'\n{"b":') == [b'{"a":1}']
    assert framer.receive_data(b"2}\n") == [b'{"b":2}']
    assert framer.pending == b""


def test_one_byte_at_a_time() -> None:
    framer = LineFramer(1024)
    lines: list[bytes] = []
    for byte in b'{"a":1}\r\n\n{"b":2}\n':
        lines += framer.receive_data(bytes([byte]))
    assert lines == [b'{"a":1}', b'{"b":2}']


def test_pending_holds_an_unterminated_last_line() -> None:
    framer = LineFramer(1024)
    assert framer.receive_data(b'{"a":1}\n  {"b":2} ') == [b'{"a":1}']
    assert framer.pending == b'{"b":2}'


def test_lines_are_immutable_bytes_not_views() -> None:
    framer = LineFramer(1024)
    (line,) = framer.receive_data(b"abc\n")
    framer.receive_data(b"xyz\n")
    assert type(line) is bytes
    assert line == b"abc"


def test_line_at_the_limit_passes() -> None:
    framer = LineFramer(10)
    assert framer.receive_data(b"x" * 10 + b"\n") == [b"x" * 10]


def too_large(items: list[bytes | MessageTooLarge]) -> list[bytes | str]:
    """Lines as they are, an over-long line as its message (exceptions do not compare)."""
    return [str(item) if isinstance(item, MessageTooLarge) else item for item in items]


TOO_LARGE_10 = "message exceeds the limit of 10 bytes"


def test_over_long_line_is_reported_in_its_place() -> None:
    framer = LineFramer(10)
    items = framer.receive_data(b"a\n" + b"x" * 11 + b"\nb\n")
    assert too_large(items) == [b"a", TOO_LARGE_10, b"b"]


def test_over_long_line_is_reported_before_its_newline_arrives() -> None:
    """The buffer is bounded: an unterminated line cannot grow past the limit."""
    framer = LineFramer(10)
    assert framer.receive_data(b"x" * 6) == []
    assert too_large(framer.receive_data(b"x" * 6)) == [TOO_LARGE_10]
    assert framer.pending == b""


def test_the_rest_of_an_over_long_line_is_dropped_up_to_its_newline() -> None:
    framer = LineFramer(10)
    assert too_large(framer.receive_data(b"ok\n" + b"y" * 1000)) == [b"ok", TOO_LARGE_10]
    assert framer.receive_data(b"y" * 10_000) == []  # nothing is buffered while dropping
    assert framer.pending == b""
    assert framer.receive_data(b'y"}\n{"a":1}\n{"b"') == [b'{"a":1}']
    assert framer.pending == b'{"b"'
    assert too_large(framer.receive_data(b"z" * 20 + b"\nc\n")) == [TOO_LARGE_10, b"c"]


def test_an_over_long_line_ending_in_the_next_feed_is_reported_once() -> None:
    framer = LineFramer(10)
    assert too_large(framer.receive_data(b"x" * 11)) == [TOO_LARGE_10]
    assert framer.receive_data(b"x\n") == []
    assert framer.receive_data(b"ok\n") == [b"ok"]


def test_many_short_lines_in_one_feed_are_fine_beyond_the_limit() -> None:
    """The limit is per message, not per read."""
    framer = LineFramer(10)
    lines = framer.receive_data(b"12345678\n" * 1000)
    assert lines == [b"12345678"] * 1000


def test_whitespace_padding_does_not_count_towards_the_limit() -> None:
    framer = LineFramer(4)
    assert framer.receive_data(b"abcd   \r\n") == [b"abcd"]


@given(
    lines=st.lists(
        st.binary(min_size=1, max_size=40).map(lambda b: b.replace(b"\n", b"").strip() or b"x"),
        max_size=20,
    ),
    cuts=st.lists(st.integers(min_value=0, max_value=2000), max_size=10),
    crlf=st.booleans(),
)
def test_any_split_of_the_stream_gives_the_same_lines(
    lines: list[bytes], cuts: list[int], crlf: bool
) -> None:
    ending = b"\r\n" if crlf else b"\n"
    stream = b"".join(line + ending for line in lines)
    framer = LineFramer(64)
    out: list[bytes] = []
    previous = 0
    for cut in [*sorted(c % (len(stream) + 1) for c in cuts), len(stream)]:
        out += framer.receive_data(stream[previous:cut])
        previous = cut
    assert out == lines
    assert framer.pending == b""


@given(
    lines=st.lists(
        st.binary(min_size=1, max_size=100).map(lambda b: b.replace(b"\n", b"").strip() or b"x"),
        max_size=20,
    ),
    cuts=st.lists(st.integers(min_value=0, max_value=3000), max_size=10),
)
def test_any_split_gives_each_over_long_line_once_in_its_place(
    lines: list[bytes], cuts: list[int]
) -> None:
    stream = b"".join(line + b"\n" for line in lines)
    framer = LineFramer(64)
    out: list[bytes | MessageTooLarge] = []
    previous = 0
    for cut in [*sorted(c % (len(stream) + 1) for c in cuts), len(stream)]:
        out += framer.receive_data(stream[previous:cut])
        previous = cut
    expected = [
        line if len(line) <= 64 else "message exceeds the limit of 64 bytes" for line in lines
    ]
    assert too_large(out) == expected
    assert framer.pending == b""
