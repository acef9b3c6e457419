"""``python -m execsrv doctor``: reports the kernel's sandboxing and proves it with a
confined start through the server's spawn path (issue 11, point 7)."""

from __future__ import annotations

import json
import re
import sys

import pytest
import trio

from execsrv.sandbox import landlock_abi
from execsrv.sandbox.doctor import diagnose

from ..servers import ROOT

pytestmark = pytest.mark.skipif(landlock_abi() < 1, reason="the kernel has no Landlock")

DOCTOR = [sys.executable, "-m", "execsrv", "doctor"]
WAIT = 60


async def doctor(*flags: str) -> tuple[int, str]:
    with trio.fail_after(WAIT):
        result = await trio.run_process(
            [*DOCTOR, *flags], cwd=ROOT, capture_stdout=True, capture_stderr=True, check=False
        )
    return result.returncode, result.stdout.decode() + result.stderr.decode()


def rows(output: str) -> dict[str, str]:
    """The table's rows: name, then the value after two or more spaces."""
    found = (re.fullmatch(r"(\S.*?) {2,}(\S.*)", line) for line in output.splitlines())
    return {match[1]: match[2] for match in found if match}


async def test_doctor_exits_0_and_reports_the_landlock_abi_and_the_proof() -> None:
    code, output = await doctor()
    assert code == 0, output
    table = rows(output)
    assert table["landlock"].startswith(f"ABI {landlock_abi()}: files")
    assert table["write inside"] == "allowed"
    assert re.fullmatch(r"refused \(.+\)", table["write outside"])
    assert re.fullmatch(r"refused \(.+\)", table["write into .git"])
    assert table["AF_INET socket"] == "refused (Operation not permitted)"
    assert table["AF_UNIX socket"] == "allowed"
    if landlock_abi() >= 6:
        assert table["abstract socket outside"] == "refused (Operation not permitted)"
        assert table["signal outside"] == "refused (Operation not permitted)"
    assert output.splitlines()[-1] == "ok: sandboxed process/start and fs/* calls work on this host"


async def test_doctor_json_is_one_object_with_every_finding() -> None:
    code, output = await doctor("--json")
    assert code == 0, output
    report = json.loads(output)
    assert report["ok"] is True
    found = {x["name"]: x for x in report["findings"]}
    assert found["landlock"]["value"].startswith(f"ABI {landlock_abi()}:")
    assert found["write outside"]["value"].startswith("refused")
    assert found["AF_UNIX socket"]["value"] == "allowed"
    assert all(x["problem"] is None for x in report["findings"])


async def test_a_kernel_without_landlock_or_seccomp_fails_with_a_reason_per_problem() -> None:
    """Simulated at the probe boundary (no kernel without Landlock is at hand): the
    Landlock ABI and seccomp probes answer as such a kernel would; nothing is started."""
    report = await diagnose(landlock_abi=lambda: 0, seccomp=lambda: {})
    assert not report.ok
    text = report.as_text()
    problems = [line for line in text.splitlines() if line.startswith("problem: ")]
    assert [line.split(":")[1].strip() for line in problems] == ["landlock", "seccomp"]
    assert all("sandboxed starts fail with sandboxUnavailable" in line for line in problems)
    assert rows(text)["confined start"] == "not run: the problems below stop it"


async def test_a_refused_mount_namespace_is_a_note_not_a_problem() -> None:
    """Simulated at the probe boundary; the proof then runs on the real kernel."""
    report = await diagnose(mount_namespace=lambda: "unshare(CLONE_NEWNS): refused")
    assert report.ok, report.as_text()
    (finding,) = [x for x in report.findings if x.name == "mount namespace"]
    assert finding.value == "no (unshare(CLONE_NEWNS): refused)"
    assert finding.notes
