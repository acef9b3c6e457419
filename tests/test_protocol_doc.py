"""protocol.md stays in step with the wire types: generated tables, coverage, extensions."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from typing import Annotated

import msgspec
import pytest

from execsrv.protocol import methods, process
from execsrv.protocol.methods import METHODS, NOTIFICATIONS, Method
from execsrv.protocol.wire import Params, Payload

from .servers import ROOT

GENERATOR = ROOT / "tools" / "gen_protocol.py"
PROTOCOL_MD = ROOT / "protocol.md"


def _load_generator():
    spec = importlib.util.spec_from_file_location("gen_protocol", GENERATOR)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    return module


gen = _load_generator()


@pytest.fixture(scope="module")
def text() -> str:
    return PROTOCOL_MD.read_text(encoding="utf-8")


def _section(text: str, heading: str) -> str:
    start = text.index(f"\n## {heading}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end >= 0 else len(text)]


def test_generated_tables_are_up_to_date(text: str) -> None:
    assert gen.generate(text) == text, (
        "protocol.md is stale: run `python tools/gen_protocol.py` and commit it"
    )


def test_check_mode_fails_with_a_diff_on_a_stale_file(tmp_path, text: str) -> None:
    stale = tmp_path / "protocol.md"
    stale.write_text(text.replace("| `process/read` |", "| `process/reed` |"), encoding="utf-8")
    check = [sys.executable, str(GENERATOR), "--check", "--path", str(stale)]

    result = subprocess.run(check, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "-| `process/reed` |" in result.stdout
    assert "+| `process/read` |" in result.stdout
    assert "out of date" in result.stderr

    rewrite = subprocess.run(check[:2] + check[3:], capture_output=True, text=True, timeout=60)
    assert rewrite.returncode == 0, rewrite.stderr
    assert stale.read_text(encoding="utf-8") == text
    assert subprocess.run(check, capture_output=True, timeout=60).returncode == 0


def test_a_missing_marker_is_an_error(tmp_path, text: str) -> None:
    broken = tmp_path / "protocol.md"
    broken.write_text(text.replace("<!-- END GENERATED: types -->", ""), encoding="utf-8")
    result = subprocess.run(
        [sys.executable, str(GENERATOR), "--check", "--path", str(broken)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "END GENERATED: types" in result.stderr


def test_prose_outside_the_markers_is_left_alone(text: str) -> None:
    edited = text.replace("# The execsrv protocol", "# The execsrv protocol, edited")
    assert gen.generate(edited) == edited


@pytest.mark.parametrize("name", [*METHODS, *NOTIFICATIONS])
def test_every_method_and_notification_is_documented(text: str, name: str) -> None:
    assert f"| `{name}` |" in _section(text, "Methods")


def _wire_structs() -> set[type]:
    roots = [t for spec in METHODS.values() for t in (spec.params, spec.result)]
    roots += [spec.params for spec in NOTIFICATIONS.values() if spec.params is not None]
    found: set[type] = set()
    pending = list(roots)
    while pending:
        cls = pending.pop()
        if cls in found:
            continue
        found.add(cls)
        for item in msgspec.inspect.type_info(cls).fields:
            pending += [s.cls for s in gen._nested_structs(item.type)]
    return found


@pytest.mark.parametrize("cls", sorted(_wire_structs(), key=lambda c: c.__name__))
def test_every_wire_struct_has_a_field_table(text: str, cls: type) -> None:
    types = _section(text, "Wire types")
    assert f"\n### {cls.__name__}\n" in types
    for item in msgspec.inspect.type_info(cls).fields:
        assert f"| `{item.encode_name}` |" in types


def _extension_fields() -> set[str]:
    return {
        f"{doc.cls.__name__}.{item.encode_name}"
        for doc in gen.collect_structs(METHODS, NOTIFICATIONS)
        for item in doc.info.fields
        if gen.is_extension_field(item)
    }


def test_extension_fields_are_the_ones_design_lists() -> None:
    # DESIGN.md §1.2; a new extension field belongs there and in protocol.md's prose.
    assert _extension_fields() == {
        "ExecParams.timeoutMs",
        "ExecParams.ptySize",
        "ReadResponse.truncated",
        "ReadResponse.exitSeq",
        "ReadResponse.closedSeq",
        "ExecExitedNotification.signal",
        "FsGetMetadataResponse.size",  # not in DESIGN.md §1.2: asked for with the fs methods
    }


def test_extensions_section_names_every_extension(text: str) -> None:
    prose = _section(text, "Extensions").split("<!-- BEGIN GENERATED")[0]
    for name in [spec.name for spec in METHODS.values() if spec.extension]:
        assert f"`{name}`" in prose
    for qualified in _extension_fields():
        assert f"`{qualified.split('.')[1]}`" in prose


@pytest.mark.parametrize("name", ["fs/canonicalize", "fs/walk"])
def test_codex_0171_methods_are_not_extensions_and_say_so(text: str, name: str) -> None:
    spec = METHODS[name]
    assert not spec.extension
    assert spec.since.value == "0.171.0"
    row = next(line for line in _section(text, "Methods").splitlines() if f"| `{name}` |" in line)
    assert "| no: codex 0.171.0 |" in row
    assert f"`{name}`" not in _section(text, "Extensions")


def test_every_field_is_described() -> None:
    undescribed = [
        f"{doc.cls.__name__}.{item.encode_name}"
        for doc in gen.collect_structs(METHODS, NOTIFICATIONS)
        for item in doc.info.fields
        if not gen.field_description(item)
    ]
    assert undescribed == []


class _ProbeParams(Params):
    """``probe/run``: a method added to the table later."""

    target: Annotated[str, msgspec.Meta(description="What to probe.")]
    depth: Annotated[
        process.U64 | None,
        msgspec.Meta(description="How deep.", extra={"extension": True}),
    ] = None


class _ProbeResult(Payload):
    mode: Annotated[process.OutputStream, msgspec.Meta(description="Declared order is kept.")]
    data: Annotated[bytes, msgspec.Meta(description="Raw bytes.")]


def test_a_new_method_is_picked_up_without_changing_the_generator() -> None:
    table = {
        **METHODS,
        "probe/run": Method("probe/run", _ProbeParams, _ProbeResult, "Probe.", extension=True),
    }
    sections = gen.render_sections(table, NOTIFICATIONS)

    assert (
        "| `probe/run` | request | client → server | [_ProbeParams](#_probeparams) "
        "| [_ProbeResult](#_proberesult) | — | yes | Probe. |"
    ) in sections["methods"]
    assert (
        "| `_ProbeParams.depth` | field | integer (u64) \\| null | How deep. |"
        in (sections["extensions"])
    )
    types = sections["types"]
    assert "### _ProbeParams\n\n**Extension type.** **Used by:** params of `probe/run`." in types
    assert "`probe/run`: a method added to the table later." in types
    assert "| `target` | string | required |  | What to probe. |" in types
    assert '| `mode` | `"stdout"` \\| `"stderr"` \\| `"pty"` | required |' in types
    assert "| `data` | base64 string | required |  | Raw bytes. |" in types
    assert "probe/run" not in methods.METHODS  # rendered from a copy, not registered
