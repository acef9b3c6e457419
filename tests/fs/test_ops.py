"""execsrv.fs operations on real files: the reference's semantics, symlinks, sizes.

Plain blocking calls on ``tmp_path``; the server-side wiring (threads, error
codes) is tested in ``test_api.py`` and against codex in
``tests/conformance/test_fs.py``.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import pytest

from execsrv import fs
from execsrv.fs import ErrorKind, FsError, kind_of
from execsrv.fs.ops import (
    COPY_DIRECTORY_NEEDS_RECURSIVE,
    COPY_INTO_ITSELF,
    COPY_UNSUPPORTED_TYPE,
    NUL_IN_PATH,
)

MIB = 1024 * 1024


def raises_errno(number: int) -> pytest.RaisesContext[OSError]:
    """Expect an OSError with this errno (the operations raise the OS's errors as they are)."""
    return pytest.raises(OSError, match=rf"^\[Errno {number}\] ")


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """file, dir/sub/x, link -> file, dirlink -> dir, dangling -> nowhere, fifo."""
    (tmp_path / "file").write_bytes(b"hello\n")
    (tmp_path / "dir" / "sub").mkdir(parents=True)
    (tmp_path / "dir" / "sub" / "x").write_bytes(b"inner")
    (tmp_path / "link").symlink_to("file")
    (tmp_path / "dirlink").symlink_to("dir")
    (tmp_path / "dangling").symlink_to("nowhere")
    os.mkfifo(tmp_path / "fifo")
    return tmp_path


# -- read_file ----------------------------------------------------------------------


def test_read_file_returns_exact_bytes(tmp_path: Path) -> None:
    data = bytes(range(256)) * 3 + b"\0\xff"
    (tmp_path / "bin").write_bytes(data)
    (tmp_path / "empty").write_bytes(b"")
    assert fs.read_file(str(tmp_path / "bin")) == data
    assert fs.read_file(str(tmp_path / "empty")) == b""


def test_read_file_follows_symlinks(tree: Path) -> None:
    assert fs.read_file(str(tree / "link")) == b"hello\n"


def test_read_file_of_a_large_file(tmp_path: Path) -> None:
    data = os.urandom(MIB) * 50
    (tmp_path / "big").write_bytes(data)
    assert fs.read_file(str(tmp_path / "big")) == data


def test_read_file_limit(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"x" * 100)
    assert fs.read_file(str(tmp_path / "f"), limit=100) == b"x" * 100
    with pytest.raises(FsError) as caught:
        fs.read_file(str(tmp_path / "f"), limit=99)
    assert caught.value.kind is ErrorKind.INVALID_INPUT
    assert caught.value.message == "file is too large to read: limit is 99 bytes"


def test_read_file_limit_is_512_mib_and_checked_before_reading(tmp_path: Path) -> None:
    assert fs.MAX_READ_FILE_BYTES == 536870912
    sparse = tmp_path / "sparse"
    with open(sparse, "wb") as handle:
        handle.truncate(fs.MAX_READ_FILE_BYTES + 1)  # no disk blocks
    with pytest.raises(FsError, match=r"^file is too large to read: limit is 536870912 bytes$"):
        fs.read_file(str(sparse))


def test_read_file_stops_at_the_limit_when_the_size_lies() -> None:
    """/dev/zero says size 0 and never ends: the limit still applies (no OOM)."""
    with pytest.raises(FsError, match="limit is 4096 bytes"):
        fs.read_file("/dev/zero", limit=4096)


def test_read_file_of_a_fifo_without_writer_does_not_block(tree: Path) -> None:
    assert fs.read_file(str(tree / "fifo")) == b""


def test_file_reader_says_would_block_on_an_idle_fifo(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    writer = os.open(fifo, os.O_RDWR | os.O_NONBLOCK)
    reader = fs.FileReader(str(fifo), limit=8)
    try:
        assert (reader.is_regular, reader.size) == (False, 0)
        assert reader.read(100) is None
        os.write(writer, b"12345")
        assert reader.read(100) == b"12345"
        assert reader.read(100) is None
        os.write(writer, b"6789")
        with pytest.raises(FsError, match="limit is 8 bytes"):
            reader.read(100)
    finally:
        reader.close()
        os.close(writer)


def test_file_writer_writes_what_fits_in_a_fifo(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with raises_errno(errno.ENXIO):
        fs.FileWriter(str(fifo))  # no reader: no wait for one
    idle_reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    writer = fs.FileWriter(str(fifo))
    try:
        data = memoryview(b"x" * (4 * MIB))
        written = writer.write(data)
        assert 0 < written < len(data)  # the pipe is full
        assert writer.write(data[written:]) == 0
        assert len(os.read(idle_reader, 10)) == 10
    finally:
        writer.close()
        os.close(idle_reader)


def test_file_writer_and_reader_on_a_regular_file(tmp_path: Path) -> None:
    path = tmp_path / "f"
    writer = fs.FileWriter(str(path))
    try:
        assert writer.is_regular
        assert writer.write(memoryview(b"abc" * MIB)) == 3 * MIB
    finally:
        writer.close()
    reader = fs.FileReader(str(path))
    try:
        assert (reader.is_regular, reader.size) == (True, 3 * MIB)
        assert reader.read(4 * MIB) == b"abc" * MIB
        assert reader.read(4 * MIB) == b""
    finally:
        reader.close()


@pytest.mark.parametrize(
    ("name", "number"),
    [("dir", errno.EISDIR), ("missing", errno.ENOENT), ("dangling", errno.ENOENT)],
)
def test_read_file_errors(tree: Path, name: str, number: int) -> None:
    with raises_errno(number):
        fs.read_file(str(tree / name))


def test_read_file_below_a_file_is_not_a_directory(tree: Path) -> None:
    with raises_errno(errno.ENOTDIR):
        fs.read_file(str(tree / "file" / "x"))


def test_a_nul_byte_in_a_path_is_invalid_input(tree: Path) -> None:
    calls = [
        lambda path: fs.read_file(path),
        lambda path: fs.write_file(path, b""),
        lambda path: fs.create_directory(path, recursive=True),
        lambda path: fs.get_metadata(path),
        lambda path: fs.read_directory(path),
        lambda path: fs.remove(path, recursive=True, force=True),
        lambda path: fs.copy(path, str(tree / "x"), recursive=True),
        lambda path: fs.copy(str(tree / "file"), path, recursive=True),
    ]
    for call in calls:
        with pytest.raises(FsError) as caught:
            call(str(tree / "fi\0le"))
        assert (caught.value.kind, caught.value.message) == (ErrorKind.INVALID_INPUT, NUL_IN_PATH)


# -- write_file ---------------------------------------------------------------------


def test_write_file_creates_and_truncates(tmp_path: Path) -> None:
    target = tmp_path / "f"
    fs.write_file(str(target), b"a long first version")
    assert target.read_bytes() == b"a long first version"
    fs.write_file(str(target), b"short")
    assert target.read_bytes() == b"short"
    fs.write_file(str(target), b"")
    assert target.read_bytes() == b""


def test_write_file_mode_is_0666_minus_umask(tmp_path: Path) -> None:
    umask = os.umask(0o022)
    try:
        fs.write_file(str(tmp_path / "f"), b"x")
    finally:
        os.umask(umask)
    assert stat.S_IMODE((tmp_path / "f").stat().st_mode) == 0o644


def test_write_file_through_a_symlink_writes_the_target(tree: Path) -> None:
    fs.write_file(str(tree / "link"), b"via link")
    assert (tree / "file").read_bytes() == b"via link"
    assert (tree / "link").is_symlink()


def test_write_file_of_a_large_file(tmp_path: Path) -> None:
    data = os.urandom(MIB) * 50
    fs.write_file(str(tmp_path / "big"), data)
    assert (tmp_path / "big").read_bytes() == data


@pytest.mark.parametrize(
    ("name", "number"),
    [("missing/x", errno.ENOENT), ("dir", errno.EISDIR), ("file/x", errno.ENOTDIR)],
)
def test_write_file_errors(tree: Path, name: str, number: int) -> None:
    with raises_errno(number):
        fs.write_file(str(tree / name), b"x")


def test_write_file_to_a_fifo_without_reader_fails_instead_of_blocking(tree: Path) -> None:
    with raises_errno(errno.ENXIO):
        fs.write_file(str(tree / "fifo"), b"x")


# -- create_directory ---------------------------------------------------------------


def test_create_directory_recursive(tmp_path: Path) -> None:
    fs.create_directory(str(tmp_path / "a" / "b" / "c"), recursive=True)
    assert (tmp_path / "a" / "b" / "c").is_dir()
    fs.create_directory(str(tmp_path / "a" / "b" / "c"), recursive=True)  # exists: fine
    fs.create_directory(str(tmp_path), recursive=True)
    fs.create_directory("/", recursive=True)


def test_create_directory_recursive_very_deep(tmp_path: Path) -> None:
    deep = tmp_path.joinpath(*["d"] * 1500)  # deeper than Python's recursion limit
    fs.create_directory(str(deep), recursive=True)
    assert deep.is_dir()


def test_create_directory_recursive_through_a_symlink_to_a_directory(tree: Path) -> None:
    fs.create_directory(str(tree / "dirlink"), recursive=True)
    fs.create_directory(str(tree / "dirlink" / "new"), recursive=True)
    assert (tree / "dir" / "new").is_dir()


@pytest.mark.parametrize(
    ("name", "number"),
    [
        ("file", errno.EEXIST),
        ("file/x", errno.ENOTDIR),
        ("dangling", errno.EEXIST),
        ("dangling/x", errno.EEXIST),  # Rust's create_dir_all, not os.makedirs (ENOENT)
    ],
)
def test_create_directory_recursive_errors(tree: Path, name: str, number: int) -> None:
    with raises_errno(number):
        fs.create_directory(str(tree / name), recursive=True)


@pytest.mark.parametrize(
    ("name", "number"),
    [("a/b", errno.ENOENT), ("dir", errno.EEXIST), ("file", errno.EEXIST)],
)
def test_create_directory_non_recursive(tree: Path, name: str, number: int) -> None:
    fs.create_directory(str(tree / "new"), recursive=False)
    assert (tree / "new").is_dir()
    with raises_errno(number):
        fs.create_directory(str(tree / name), recursive=False)


# -- get_metadata -------------------------------------------------------------------


def test_metadata_of_a_file(tree: Path) -> None:
    info = (tree / "file").stat()
    metadata = fs.get_metadata(str(tree / "file"))
    assert metadata == fs.FileMetadata(
        is_directory=False,
        is_file=True,
        is_symlink=False,
        size=6,
        created_at_ms=0,
        modified_at_ms=info.st_mtime_ns // 1_000_000,
    )


def test_metadata_follows_symlinks_except_is_symlink(tree: Path) -> None:
    link = fs.get_metadata(str(tree / "link"))
    assert (link.is_file, link.is_directory, link.is_symlink, link.size) == (True, False, True, 6)
    dirlink = fs.get_metadata(str(tree / "dirlink"))
    assert (dirlink.is_file, dirlink.is_directory, dirlink.is_symlink) == (False, True, True)
    directory = fs.get_metadata(str(tree / "dir"))
    assert (directory.is_file, directory.is_directory, directory.is_symlink) == (
        False,
        True,
        False,
    )


def test_metadata_of_other_types_and_old_times(tree: Path) -> None:
    fifo = fs.get_metadata(str(tree / "fifo"))
    assert (fifo.is_file, fifo.is_directory, fifo.is_symlink) == (False, False, False)
    os.utime(tree / "file", ns=(0, -5_000_000_000))  # before the epoch: reported as 0
    assert fs.get_metadata(str(tree / "file")).modified_at_ms == 0
    os.utime(tree / "file", ns=(0, 1_234_567_891))
    assert fs.get_metadata(str(tree / "file")).modified_at_ms == 1234


@pytest.mark.parametrize("name", ["dangling", "missing"])
def test_metadata_of_a_dangling_link_is_not_found(tree: Path, name: str) -> None:
    with raises_errno(errno.ENOENT):
        fs.get_metadata(str(tree / name))


def test_metadata_of_a_symlink_loop(tmp_path: Path) -> None:
    (tmp_path / "loop").symlink_to("loop")
    with raises_errno(errno.ELOOP):
        fs.get_metadata(str(tmp_path / "loop"))


# -- read_directory -----------------------------------------------------------------


def _entries(path: Path) -> set[tuple[str, bool, bool]]:
    return {(e.file_name, e.is_directory, e.is_file) for e in fs.read_directory(str(path))}


def test_read_directory_types_follow_links_and_dangling_links_are_dropped(tree: Path) -> None:
    assert _entries(tree) == {
        ("file", False, True),
        ("dir", True, False),
        ("link", False, True),
        ("dirlink", True, False),
        ("fifo", False, False),
    }
    assert _entries(tree / "dirlink") == {("sub", True, False)}


def test_read_directory_of_an_empty_directory(tmp_path: Path) -> None:
    assert fs.read_directory(str(tmp_path)) == []


def test_read_directory_unicode_and_undecodable_names(tmp_path: Path) -> None:
    names = ["é", "日本語.txt", "emoji 🎉", "sp ace", "new\nline"]
    for name in names:
        (tmp_path / name).write_bytes(b"")
    os.close(os.open(os.path.join(os.fsencode(tmp_path), b"bad\xff\xfename"), os.O_CREAT, 0o644))
    found = {e.file_name for e in fs.read_directory(str(tmp_path))}
    assert found == {*names, "bad\ufffd\ufffdname"}  # as Rust's to_string_lossy


def test_read_directory_with_many_entries(tmp_path: Path) -> None:
    count = 5000
    for i in range(count):
        os.close(os.open(tmp_path / f"f{i:05}", os.O_CREAT | os.O_WRONLY, 0o644))
    entries = fs.read_directory(str(tmp_path))
    assert len(entries) == count
    assert {e.file_name for e in entries} == {f"f{i:05}" for i in range(count)}
    assert all(e.is_file and not e.is_directory for e in entries)


@pytest.mark.parametrize(("name", "number"), [("file", errno.ENOTDIR), ("missing", errno.ENOENT)])
def test_read_directory_errors(tree: Path, name: str, number: int) -> None:
    with raises_errno(number):
        fs.read_directory(str(tree / name))


# -- remove -------------------------------------------------------------------------


def test_remove_file_and_symlinks_without_following(tree: Path) -> None:
    fs.remove(str(tree / "dirlink"), recursive=True, force=True)
    fs.remove(str(tree / "link"), recursive=True, force=True)
    fs.remove(str(tree / "dangling"), recursive=False, force=False)
    fs.remove(str(tree / "fifo"), recursive=False, force=False)
    assert (tree / "dir" / "sub" / "x").read_bytes() == b"inner"
    assert (tree / "file").read_bytes() == b"hello\n"
    assert sorted(p.name for p in tree.iterdir()) == ["dir", "file"]
    fs.remove(str(tree / "file"), recursive=False, force=False)
    assert not (tree / "file").exists()


def test_remove_directories(tree: Path) -> None:
    (tree / "empty").mkdir()
    fs.remove(str(tree / "empty"), recursive=False, force=False)
    with raises_errno(errno.ENOTEMPTY):
        fs.remove(str(tree / "dir"), recursive=False, force=True)
    fs.remove(str(tree / "dir"), recursive=True, force=False)
    assert not (tree / "dir").exists()


def test_remove_a_missing_path(tree: Path) -> None:
    fs.remove(str(tree / "missing"), recursive=True, force=True)
    with raises_errno(errno.ENOENT):
        fs.remove(str(tree / "missing"), recursive=True, force=False)
    for force in (True, False):  # only "not found" is forgiven
        with raises_errno(errno.ENOTDIR):
            fs.remove(str(tree / "file" / "x"), recursive=True, force=force)


def test_remove_a_very_deep_tree(tmp_path: Path) -> None:
    """Deeper than Python's recursion limit (shutil.rmtree fails here)."""
    deep = tmp_path.joinpath("top", *["d"] * 1500)
    fs.create_directory(str(deep), recursive=True)
    (deep / "leaf").write_bytes(b"x")
    (deep.parent / "link").symlink_to(tmp_path)  # not followed
    fs.remove(str(tmp_path / "top"), recursive=True, force=False)
    assert os.listdir(tmp_path) == []


def test_remove_a_large_tree(tmp_path: Path) -> None:
    root = tmp_path / "big"
    for i in range(50):
        (root / f"d{i}").mkdir(parents=True)
        for j in range(40):
            (root / f"d{i}" / f"f{j}").write_bytes(b"x")
        (root / f"d{i}" / "up").symlink_to(tmp_path)  # must not be followed
    (tmp_path / "keep").write_bytes(b"k")
    fs.remove(str(root), recursive=True, force=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep"]


# -- copy ---------------------------------------------------------------------------


def test_copy_a_file_with_its_mode(tree: Path) -> None:
    (tree / "file").chmod(0o750)
    fs.copy(str(tree / "file"), str(tree / "copy"), recursive=False)
    assert (tree / "copy").read_bytes() == b"hello\n"
    assert stat.S_IMODE((tree / "copy").stat().st_mode) == 0o750
    (tree / "other").write_bytes(b"a much longer previous content")
    fs.copy(str(tree / "file"), str(tree / "other"), recursive=True)  # truncated, replaced
    assert (tree / "other").read_bytes() == b"hello\n"


def test_copy_a_large_file(tmp_path: Path) -> None:
    data = os.urandom(MIB) * 50
    (tmp_path / "big").write_bytes(data)
    fs.copy(str(tmp_path / "big"), str(tmp_path / "copy"), recursive=False)
    assert (tmp_path / "copy").read_bytes() == data


def test_copy_a_procfs_file_whose_size_is_zero(tmp_path: Path) -> None:
    fs.copy("/proc/self/status", str(tmp_path / "status"), recursive=False)
    assert b"Name:" in (tmp_path / "status").read_bytes()


@pytest.mark.parametrize("onto", ["file", "link", "hardlink"])
def test_copy_a_file_onto_itself_keeps_it(tree: Path, onto: str) -> None:
    """DESIGN.md §1.1.4: the reference truncates the file to nothing."""
    os.link(tree / "file", tree / "hardlink")
    fs.copy(str(tree / "file"), str(tree / onto), recursive=False)
    assert (tree / "file").read_bytes() == b"hello\n"
    assert (tree / "link").is_symlink()


def test_copy_a_symlink_as_a_symlink(tree: Path) -> None:
    fs.copy(str(tree / "link"), str(tree / "link2"), recursive=False)
    fs.copy(str(tree / "dirlink"), str(tree / "dirlink2"), recursive=True)
    fs.copy(str(tree / "dangling"), str(tree / "dangling2"), recursive=False)
    assert os.readlink(tree / "link2") == "file"
    assert os.readlink(tree / "dirlink2") == "dir"
    assert os.readlink(tree / "dangling2") == "nowhere"
    with raises_errno(errno.EEXIST):  # never onto an existing path
        fs.copy(str(tree / "link"), str(tree / "link2"), recursive=False)


def test_copy_a_directory_tree_merges_and_skips_other_types(tree: Path) -> None:
    (tree / "dest" / "sub").mkdir(parents=True)
    (tree / "dest" / "sub" / "kept").write_bytes(b"k")
    (tree / "dir" / "sub" / "ln").symlink_to("x")
    os.mkfifo(tree / "dir" / "pipe")
    fs.copy(str(tree / "dir"), str(tree / "dest"), recursive=True)
    assert sorted(p.name for p in (tree / "dest").iterdir()) == ["sub"]  # no pipe
    assert sorted(p.name for p in (tree / "dest" / "sub").iterdir()) == ["kept", "ln", "x"]
    assert (tree / "dest" / "sub" / "x").read_bytes() == b"inner"
    assert os.readlink(tree / "dest" / "sub" / "ln") == "x"


def test_copy_a_deep_tree(tmp_path: Path) -> None:
    deep = tmp_path.joinpath("src", *["d"] * 300)
    deep.mkdir(parents=True)
    (deep / "leaf").write_bytes(b"leaf")
    fs.copy(str(tmp_path / "src"), str(tmp_path / "dst"), recursive=True)
    assert tmp_path.joinpath("dst", *["d"] * 300, "leaf").read_bytes() == b"leaf"


@pytest.mark.parametrize(
    ("source", "destination", "recursive", "message"),
    [
        ("dir", "copy", False, COPY_DIRECTORY_NEEDS_RECURSIVE),
        ("dir", "dir", True, COPY_INTO_ITSELF),
        ("dir", "dir/sub/inside", True, COPY_INTO_ITSELF),
        ("dir", "dirlink/new", True, COPY_INTO_ITSELF),  # through a symlink
        ("dirlink", "dir/x", True, None),  # a symlink source is copied as a link: fine
        ("fifo", "fifo2", True, COPY_UNSUPPORTED_TYPE),
    ],
)
def test_copy_refusals(
    tree: Path, source: str, destination: str, recursive: bool, message: str | None
) -> None:
    if message is None:
        fs.copy(str(tree / source), str(tree / destination), recursive=recursive)
        return
    with pytest.raises(FsError) as caught:
        fs.copy(str(tree / source), str(tree / destination), recursive=recursive)
    assert (caught.value.kind, caught.value.message) == (ErrorKind.INVALID_INPUT, message)


def test_copy_a_directory_next_to_itself_is_not_into_itself(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    fs.copy(str(tmp_path / "a"), str(tmp_path / "ab"), recursive=True)  # a prefix, not a parent
    assert (tmp_path / "ab").is_dir()


@pytest.mark.parametrize(
    ("source", "destination", "number"),
    [
        ("file", "dir", errno.EISDIR),
        ("dir", "file", errno.EEXIST),
        ("missing", "x", errno.ENOENT),
        ("file", "missing/x", errno.ENOENT),
    ],
)
def test_copy_errors(tree: Path, source: str, destination: str, number: int) -> None:
    with raises_errno(number):
        fs.copy(str(tree / source), str(tree / destination), recursive=True)


# -- error kinds --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "kind"),
    [
        (errno.ENOENT, ErrorKind.NOT_FOUND),
        (errno.EACCES, ErrorKind.INVALID_INPUT),
        (errno.EPERM, ErrorKind.INVALID_INPUT),
        (errno.EINVAL, ErrorKind.INVALID_INPUT),
        (errno.EISDIR, ErrorKind.OTHER),
        (errno.EEXIST, ErrorKind.OTHER),
        (None, ErrorKind.OTHER),
    ],
)
def test_error_kinds(number: int | None, kind: ErrorKind) -> None:
    error = OSError(number, "x") if number is not None else OSError("x")
    assert kind_of(error) is kind
    assert kind_of(FsError(ErrorKind.NOT_FOUND, "m")) is ErrorKind.NOT_FOUND


def test_copy_onto_a_fifo_fails_instead_of_blocking(tmp_path: Path) -> None:
    source = tmp_path / "source"
    source.write_bytes(b"x" * (4 * MIB))
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with raises_errno(errno.ENXIO):  # no reader
        fs.copy(str(source), str(fifo), recursive=False)
    idle_reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        with raises_errno(errno.EAGAIN):  # a reader that does not read: the pipe fills
            fs.copy(str(source), str(fifo), recursive=False)
    finally:
        os.close(idle_reader)
