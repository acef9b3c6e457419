"""``OutputLog`` on its own: sans-IO, so driven directly, with no trio and no child.

Like h11's tests: feed it what the process saw, check what it says back.
"""

from __future__ import annotations

import ast
import inspect
from types import ModuleType

from execsrv import events
from execsrv.process import Closed, Exited, Output, OutputLog, output_log
from execsrv.process.output_log import READ_CHUNK_BYTES


def _seqs(log: OutputLog, after_seq: int = 0, max_bytes: int | None = None) -> list[int]:
    return [chunk.seq for chunk in log.snapshot(after_seq, max_bytes).chunks]


def test_every_event_takes_the_next_seq_from_one_counter() -> None:
    log = OutputLog(1 << 20)
    assert log.append("stdout", b"a") == Output(1, "stdout", b"a")
    assert log.append("stderr", b"b") == Output(2, "stderr", b"b")
    assert not log.exited
    assert log.mark_exited(3, None) == Exited(3, 3, None)
    assert log.append("stdout", b"late") == Output(4, "stdout", b"late")
    assert not log.closed
    assert log.mark_closed() == Closed(5)
    assert (log.exited, log.closed, log.next_seq) == (True, True, 6)
    response = log.snapshot(0, None)
    assert [(c.seq, c.stream, c.chunk) for c in response.chunks] == [
        (1, "stdout", b"a"),
        (2, "stderr", b"b"),
        (4, "stdout", b"late"),
    ]
    assert (response.next_seq, response.exited, response.exit_code, response.closed) == (
        5,
        True,
        3,
        True,
    )
    assert (response.exit_seq, response.closed_seq, response.truncated) == (3, 5, False)


def test_a_signal_exit_is_recorded_with_its_name() -> None:
    log = OutputLog(100)
    assert log.mark_exited(-1, "SIGKILL") == Exited(1, -1, "SIGKILL")
    assert (log.exit_code, log.exit_signal, log.exit_seq) == (-1, "SIGKILL", 1)


def test_retention_evicts_the_oldest_chunks_whole_past_the_byte_budget() -> None:
    log = OutputLog(10)
    for data in (b"1111", b"2222", b"3333"):
        log.append("stdout", data)
    assert log.retained_bytes == 8  # 12 > 10: the whole first chunk went
    assert _seqs(log) == [2, 3]
    assert log.snapshot(0, None).truncated
    assert not log.snapshot(1, None).truncated
    log.append("stdout", b"x" * 20)  # larger than the budget: not even itself is kept
    assert (log.retained_bytes, _seqs(log)) == (0, [])
    assert log.snapshot(3, None).truncated
    assert log.snapshot(4, None).next_seq == 5


def test_evict_frees_whole_chunks_until_at_least_the_bytes_asked() -> None:
    log = OutputLog(100)
    for data in (b"aaa", b"bbb", b"ccc"):
        log.append("stdout", data)
    assert log.evict(4) == 6  # two whole chunks
    assert (log.retained_bytes, _seqs(log)) == (3, [3])
    assert log.evict(100) == 3
    assert log.evict(1) == 0


def test_snapshot_starts_after_the_cursor_and_stops_within_max_bytes() -> None:
    log = OutputLog(100)
    for data in (b"12345", b"123", b"12", b"1"):
        log.append("stdout", data)
    assert _seqs(log, 1) == [2, 3, 4]
    assert _seqs(log, 0, max_bytes=8) == [1, 2]
    assert _seqs(log, 0, max_bytes=1) == [1]  # the first chunk always comes
    assert log.snapshot(0, 9).next_seq == 3  # after the last chunk handed out
    nothing = log.snapshot(4, 10)
    assert (nothing.chunks, nothing.next_seq, nothing.exited) == ([], 5, False)


def test_a_long_poll_has_news_for_chunks_an_unseen_exit_or_closed() -> None:
    log = OutputLog(100)
    assert not OutputLog.has_news(0, log.snapshot(0, None))
    log.append("stdout", b"x")
    assert OutputLog.has_news(0, log.snapshot(0, None))
    assert not OutputLog.has_news(1, log.snapshot(1, None))
    log.mark_exited(0, None)
    assert OutputLog.has_news(1, log.snapshot(1, None))  # the exit at seq 2 is unseen
    assert not OutputLog.has_news(2, log.snapshot(2, None))
    log.mark_closed()
    assert OutputLog.has_news(3, log.snapshot(3, None))  # closed always returns


def test_while_every_notification_arrives_reads_are_full() -> None:
    log = OutputLog(100)
    output = log.append("stdout", b"x" * 30)
    assert log.notified(output.seq, delivered=True)
    assert not log.behind
    assert log.read_allowance(1, reserved_bytes=0) == 100
    assert log.read_allowance(2, reserved_bytes=100) == 50  # the budget shared, not the room
    assert OutputLog(1 << 30).read_allowance(1, 0) == READ_CHUNK_BYTES


def test_a_dropped_notification_keeps_unread_output_from_eviction_until_a_read() -> None:
    log = OutputLog(100)
    first = log.append("stdout", b"a" * 30)
    assert log.notified(first.seq, delivered=True)
    second = log.append("stdout", b"b" * 30)
    # Dropped: what was notified before may be lost with the connection too, so
    # only what a process/read went past (nothing) stays acknowledged.
    assert not log.notified(second.seq, delivered=False)
    assert log.behind
    assert log.read_allowance(1, reserved_bytes=0) == 40  # 100 - 60 unread
    assert log.read_allowance(3, reserved_bytes=0) == 14  # shared, rounded up
    assert log.read_allowance(1, reserved_bytes=40) is None  # wait for a read
    third = log.append("stdout", b"c" * 10)
    assert not log.notified(third.seq, delivered=True)  # delivered, but still behind
    assert log.read_allowance(1, reserved_bytes=0) == 30
    # A read that goes past the dropped one: the client caught up. It reads, so
    # only its reads acknowledge output from now on (seq 3 was only notified).
    assert log.mark_read(1, log.snapshot(1, max_bytes=30))  # hands out seq 2 only
    assert not log.behind
    assert log.paced
    assert log.read_allowance(1, reserved_bytes=0) == 90
    assert not log.mark_read(0, log.snapshot(0, max_bytes=1))  # nothing new acknowledged
    assert log.stop_pacing()  # the reader stopped: seq 3 reached it as a notification
    assert log.read_allowance(1, reserved_bytes=0) == 100


def test_a_read_cursor_acknowledges_up_to_itself_even_with_nothing_handed_out() -> None:
    log = OutputLog(100)
    for _ in range(3):
        output = log.append("stdout", b"x" * 20)
        log.notified(output.seq, delivered=False)
    assert log.read_allowance(1, 0) == 40
    assert log.mark_read(2, log.snapshot(2, max_bytes=None))  # seq 3 handed out
    assert not log.behind
    assert not log.mark_read(7, log.snapshot(7, None))  # past the end: capped at seq 3


def test_a_reader_paces_the_log_until_it_stops_reading() -> None:
    log = OutputLog(100)
    first = log.append("stdout", b"a" * 40)
    assert log.notified(first.seq, delivered=True)  # nobody reads yet: acknowledged
    assert not log.paced
    # A process/read from before it: the reader builds the output from reads, so
    # the notification no longer counts, and nothing it has not read is evicted.
    assert not log.mark_read(0, log.snapshot(0, max_bytes=0))  # hands out seq 1
    assert log.paced
    assert log.read_allowance(1, reserved_bytes=0) == 100  # seq 1 was read
    second = log.append("stdout", b"b" * 60)
    assert not log.notified(second.seq, delivered=True)  # delivered, not read
    assert log.read_allowance(1, reserved_bytes=0) == 40
    third = log.append("stdout", b"c" * 40)  # evicts seq 1, which was read
    assert not log.notified(third.seq, delivered=True)
    assert log.read_allowance(1, reserved_bytes=0) is None  # full of unread output
    assert _seqs(log, 1) == [2, 3]
    assert not log.snapshot(1, None).truncated
    # Its next read makes room again.
    assert log.mark_read(1, log.snapshot(1, max_bytes=60))  # hands out seq 2 only
    assert log.read_allowance(2, reserved_bytes=0) == 30  # 60 free, shared by 2 streams
    # It stops reading: what was notified is acknowledged, and may be evicted.
    assert log.stop_pacing()
    assert not log.paced
    assert log.read_allowance(1, reserved_bytes=0) == 100
    log.append("stdout", b"d" * 80)
    assert log.snapshot(2, None).truncated  # seq 3 was evicted unread: said so
    # Its next read paces the log again.
    log.mark_read(2, log.snapshot(2, None))
    assert log.paced


def test_stop_pacing_acknowledges_nothing_while_output_reached_nobody() -> None:
    log = OutputLog(100)
    log.mark_read(0, log.snapshot(0, None))
    output = log.append("stdout", b"a" * 100)
    assert not log.notified(output.seq, delivered=False)  # detached
    assert not log.stop_pacing()
    assert log.behind
    assert log.read_allowance(1, reserved_bytes=0) is None  # held until a read, as before


def _imports(module: ModuleType) -> set[str]:
    tree = ast.parse(inspect.getsource(module))
    names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    return names | {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}


def test_the_log_and_the_events_import_no_io_library() -> None:
    for module in (output_log, events):
        roots = {name.split(".")[0] for name in _imports(module)}
        assert not roots & {"trio", "anyio", "os", "socket"}, roots


def test_a_log_paced_from_the_start_keeps_what_was_notified_before_the_first_read() -> None:
    """A 0.130 process: its harness reads right after the start, so output notified
    before that first read is not evicted either."""
    log = OutputLog(100, paced=True)
    first = log.append("stdout", b"a" * 100)
    assert not log.notified(first.seq, delivered=True)
    assert log.read_allowance(1, reserved_bytes=0) is None  # held, not evicted
    assert log.mark_read(0, log.snapshot(0, None))  # the first read takes it
    assert log.read_allowance(1, reserved_bytes=0) == 100
