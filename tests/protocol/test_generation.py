"""How a request's generation is told: its own forms, else its session's."""

from __future__ import annotations

import pytest

from execsrv.protocol import methods as m
from execsrv.protocol.generation import Generation, of_path_form

V130, V171 = Generation.V0_130, Generation.V0_171


@pytest.mark.parametrize(
    ("paths", "expected"),
    [
        (("/tmp",), V130),
        (("relative",), V130),
        (("file:///tmp",), V171),
        (("/tmp", "file:///tmp"), V171),
        ((None,), None),
        ((), None),
    ],
)
def test_path_forms_tell_the_generation(
    paths: tuple[str | None, ...], expected: Generation | None
) -> None:
    assert of_path_form(*paths) is expected


def test_a_method_only_0171_has_speaks_0171_whatever_its_params() -> None:
    params = m.FS_CANONICALIZE.decoder.decode(b'{"path":"/tmp"}')
    assert m.FS_CANONICALIZE.generation_of(params) is V171


@pytest.mark.parametrize(
    ("cwd", "expected"), [("/tmp", V130), ("file:///tmp", V171), ("file://localhost/", V171)]
)
def test_a_process_start_speaks_as_its_cwd(cwd: str, expected: Generation) -> None:
    raw = f'{{"processId":"p","argv":["true"],"cwd":"{cwd}","env":{{}},"tty":false}}'
    params = m.PROCESS_START.decoder.decode(raw.encode())
    assert m.PROCESS_START.generation_of(params) is expected


def test_params_without_paths_say_nothing() -> None:
    params = m.PROCESS_READ.decoder.decode(b'{"processId":"p"}')
    assert m.PROCESS_READ.generation_of(params) is None
