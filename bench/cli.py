"""``python -m bench [--quick] [WORKLOAD ...]``: execsrv against codex 0.130 and codex
0.171 side by side, one run, one table (a row per benchmark, a ratio to each codex)."""

from __future__ import annotations

import argparse
import json
import os
import resource
import shlex
import sys
import time
import traceback
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from pathlib import Path

from . import servers, workloads
from .fsread import fs_read, fs_read_large
from .harness_read import harness_read
from .httpdl import http_download
from .ownclient import own_client_throughput
from .workloads import QUICK, Sizes

RESULTS = Path(__file__).resolve().parent / "results" / "latest.json"

Workload = Callable[[servers.Server, Sizes], dict[str, object]]
ALL = ("execsrv", *servers.CODEX_KINDS)


@dataclass(frozen=True)
class Latency:
    """Both servers up at once; probes alternate in rounds; p50/p99 over all samples."""

    key: str
    probe: type[workloads.Probe]
    iterations: str  # the Sizes field with the sample count

    @property
    def runs_on(self) -> tuple[str, ...]:
        return self.probe.runs_on or ALL


@dataclass(frozen=True)
class Repeated:
    """One server per kind, ``Sizes.throughput_repeats`` alternating runs, best reported."""

    key: str
    function: Workload
    runs_on: tuple[str, ...] = ALL


@dataclass(frozen=True)
class Fresh:
    """A fresh server per kind (memory numbers start from the same baseline)."""

    key: str
    function: Workload
    runs_on: tuple[str, ...] = ALL


WORKLOADS: dict[str, list[Latency | Repeated | Fresh]] = {
    "rtt": [Latency("rtt", workloads.RoundTrip, "rtt_iterations")],
    "spawn": [
        Latency("spawn_ordinary", workloads.SpawnOrdinary, "spawn_ordinary"),
        Latency("spawn_hidden", workloads.SpawnHidden, "spawn_hidden"),
        Latency("spawn_hidden_uri", workloads.SpawnHiddenUri, "spawn_hidden"),
        Latency("spawn_sandboxed_uri", workloads.SpawnSandboxedUri, "spawn_hidden"),
    ],
    "pty": [
        Latency("pty_ordinary", workloads.PtyOrdinary, "pty_ordinary"),
        Latency("pty_hidden", workloads.PtyHidden, "pty_hidden"),
    ],
    "throughput": [Repeated("throughput", workloads.throughput)],
    "fanout": [Fresh("fanout", workloads.fanout)],
    "idle": [Fresh("idle", workloads.idle_connections)],
    "client": [Repeated("own_client", own_client_throughput, ("execsrv",))],
    "resume": [Fresh("resume", workloads.resume_latency)],
    "detached": [Fresh("detached", workloads.detached_sessions)],
    "http": [Repeated("http_download", http_download)],
    "fs": [Repeated("fs_read", fs_read), Fresh("fs_read_large", fs_read_large)],
    # The 0.130 harness's reads (plain paths): codex 0.171 refuses them.
    "harness": [Fresh("harness_read", harness_read, ("execsrv", servers.CODEX_130))],
}

Results = dict[str, dict[str, dict[str, object]]]


def _error(error: Exception) -> dict[str, object]:
    traceback.print_exc()
    return {"error": f"{type(error).__name__}: {error}"}


def _log(key: str, kind: str, seconds: float, data: dict[str, object]) -> None:
    shown = {k: round(v, 3) if isinstance(v, float) else v for k, v in data.items()}
    text = json.dumps(shown, default=str)
    print(f"  {key:<19} {kind:<11} {seconds:6.1f} s  {text[:150]}", file=sys.stderr, flush=True)


Binaries = dict[str, str]
"""The codex binary of each codex kind that was found."""


def run_latency(spec: Latency, kinds: list[str], binaries: Binaries, sizes: Sizes) -> None:
    kinds = [k for k in kinds if k in spec.runs_on]
    iterations = getattr(sizes, spec.iterations)
    rounds = max(1, min(sizes.latency_rounds, iterations))
    per_round = -(-iterations // rounds)
    samples: dict[str, list[float]] = {kind: [] for kind in kinds}
    out: dict[str, dict[str, object]] = {}
    t0 = time.monotonic()
    with ExitStack() as stack:
        probes: dict[str, workloads.Probe] = {}
        for kind in kinds:
            try:
                server = stack.enter_context(servers.start(kind, binaries.get(kind)))
                probe = spec.probe(server)
                stack.callback(probe.close)
                probe.run(workloads.WARMUP)
                probes[kind] = probe
            except Exception as error:
                out[kind] = _error(error)
        for r in range(rounds):
            order = list(probes) if r % 2 == 0 else list(reversed(probes))
            for kind in order:
                if kind in out:
                    continue
                try:
                    samples[kind] += probes[kind].run(per_round)
                except Exception as error:
                    out[kind] = _error(error)
    for kind in kinds:
        if kind not in out:
            out[kind] = workloads.summarize(samples[kind], spec.probe.socket_mode)
        _log(spec.key, kind, time.monotonic() - t0, out[kind])
    RESULTS_BY_KEY[spec.key] = out


def run_repeated(spec: Repeated, kinds: list[str], binaries: Binaries, sizes: Sizes) -> None:
    kinds = [k for k in kinds if k in spec.runs_on]
    runs: dict[str, list[dict[str, object]]] = {kind: [] for kind in kinds}
    out: dict[str, dict[str, object]] = {}
    t0 = time.monotonic()
    with ExitStack() as stack:
        running = {}
        for kind in kinds:
            try:
                running[kind] = stack.enter_context(servers.start(kind, binaries.get(kind)))
            except Exception as error:
                out[kind] = _error(error)
        for r in range(sizes.throughput_repeats):
            order = list(running) if r % 2 == 0 else list(reversed(running))
            for kind in order:
                if kind in out:
                    continue
                try:
                    runs[kind].append(spec.function(running[kind], sizes))
                except Exception as error:
                    out[kind] = _error(error)
    for kind in kinds:
        if kind not in out:
            best = max(runs[kind], key=lambda run: float(run["mb_per_s"]))  # type: ignore[arg-type]
            out[kind] = {**best, "all_mb_per_s": [run["mb_per_s"] for run in runs[kind]]}
        _log(spec.key, kind, time.monotonic() - t0, out[kind])
    RESULTS_BY_KEY[spec.key] = out


def run_fresh(spec: Fresh, kinds: list[str], binaries: Binaries, sizes: Sizes) -> None:
    out: dict[str, dict[str, object]] = {}
    for kind in kinds:
        if kind not in spec.runs_on:
            continue
        t0 = time.monotonic()
        try:
            with servers.start(kind, binaries.get(kind)) as server:
                out[kind] = spec.function(server, sizes)
        except Exception as error:
            out[kind] = _error(error)
        _log(spec.key, kind, time.monotonic() - t0, out[kind])
    RESULTS_BY_KEY[spec.key] = out


RESULTS_BY_KEY: Results = {}


@dataclass(frozen=True)
class Row:
    label: str
    key: str
    field: str
    unit: str
    scale: float = 1.0  # displayed = stored * scale
    op: str = ""  # "<=" or ">=" on each ratio execsrv/codex; "" = no target
    target: float = 0.0


def rows_for(sizes: Sizes) -> list[Row]:
    mb = sizes.throughput_bytes // (1024 * 1024)
    fan = f"{sizes.fanout_processes}x{sizes.fanout_bytes // (1024 * 1024)} MiB"
    return [
        Row("1 rpc round trip p50", "rtt", "p50_us", "us", 1, "<=", 2.0),
        Row("1 rpc round trip p99", "rtt", "p99_us", "us"),
        Row("2 spawn->closed ordinary p50", "spawn_ordinary", "p50_us", "ms", 1e-3, "<=", 0.1),
        Row("2 spawn->closed hidden p50", "spawn_hidden", "p50_us", "ms", 1e-3, "<=", 1.5),
        Row("2 spawn->closed hidden p99", "spawn_hidden", "p99_us", "ms", 1e-3),
        Row("2b spawn->closed hidden, URI cwd p50", "spawn_hidden_uri", "p50_us", "ms", 1e-3),
        Row("2b spawn->closed hidden, URI cwd p99", "spawn_hidden_uri", "p99_us", "ms", 1e-3),
        Row(
            "2c spawn->closed hidden, workspace-write p50",
            "spawn_sandboxed_uri",
            "p50_us",
            "ms",
            1e-3,
            "<=",
            1.5,
        ),
        Row(
            "2c spawn->closed hidden, workspace-write p99",
            "spawn_sandboxed_uri",
            "p99_us",
            "ms",
            1e-3,
        ),
        Row("3 pty echo ordinary p50", "pty_ordinary", "p50_us", "us", 1, "<=", 0.1),
        Row("3 pty echo hidden p50", "pty_hidden", "p50_us", "us", 1, "<=", 2.0),
        Row("3 pty echo hidden p99", "pty_hidden", "p99_us", "us"),
        Row(
            f"4 throughput {mb} MiB (best of {sizes.throughput_repeats})",
            "throughput",
            "mb_per_s",
            "MB/s",
            1,
            ">=",
            1.0,
        ),
        Row("4   server CPU", "throughput", "server_cpu_pct", "%"),
        Row("4   load generator CPU", "throughput", "loadgen_cpu_pct", "%"),
        Row(f"5 fan-out {fan} wall", "fanout", "seconds", "s", 1, "<=", 1.0),
        Row("5 fan-out server peak RSS", "fanout", "peak_rss_kb", "MB", 1.024e-3, "<=", 0.5),
        Row("5   server CPU", "fanout", "server_cpu_pct", "%"),
        Row("5   load generator CPU", "fanout", "loadgen_cpu_pct", "%"),
        Row(
            f"6 idle conn RSS ({sizes.idle_connections})",
            "idle",
            "kb_per_connection",
            "KB/conn",
            1.024,
            "<=",
            1.0,
        ),
        Row(f"7 execsrv's client {sizes.client_bytes >> 20} MiB", "own_client", "mb_per_s", "MB/s"),
        Row("7   client CPU", "own_client", "client_cpu_pct", "%"),
        Row("7   server CPU", "own_client", "server_cpu_pct", "%"),
        Row("8 resume + catch up 256 KiB p50", "resume", "p50_us", "ms", 1e-3),
        Row("8 resume + catch up 256 KiB p99", "resume", "p99_us", "ms", 1e-3),
        Row(
            f"9 detached session RSS ({sizes.detached_sessions})",
            "detached",
            "kb_per_session",
            "KB/sess",
            1.024,
        ),
        Row(
            f"10 http/request stream {sizes.http_bytes >> 20} MiB (best of "
            f"{sizes.throughput_repeats})",
            "http_download",
            "mb_per_s",
            "MB/s",
            1,
            ">=",
            1.0,
        ),
        Row("10  server CPU", "http_download", "server_cpu_pct", "%"),
        Row("10  load generator CPU", "http_download", "loadgen_cpu_pct", "%"),
        Row(
            f"11 fs/readFile {sizes.fs_read_bytes >> 20} MiB x{sizes.fs_read_count} (best of "
            f"{sizes.throughput_repeats})",
            "fs_read",
            "mb_per_s",
            "MB/s",
        ),
        Row("11  per read", "fs_read", "ms_per_read", "ms"),
        Row("11  server CPU", "fs_read", "server_cpu_pct", "%"),
        Row(
            f"11b fs/readFile {sizes.fs_large_bytes >> 20} MiB once",
            "fs_read_large",
            "seconds",
            "s",
            1,
            "<=",
            1.0,
        ),
        Row(
            "11b server peak RSS",
            "fs_read_large",
            "peak_rss_kb",
            "MB",
            1.024e-3,
            "<=",
            1.0,
        ),
        Row(
            f"12 0.130-harness reads of seq 1 {sizes.harness_seq_count}: lost",
            "harness_read",
            "lost_bytes",
            "MB",
            1e-6,
        ),
        Row("12  wall", "harness_read", "seconds", "s"),
        Row("12  server peak RSS", "harness_read", "peak_rss_kb", "MB", 1.024e-3),
        Row("12  server RSS growth", "harness_read", "peak_rss_growth_kb", "MB", 1.024e-3),
    ]


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


CODEX_COLUMNS = {servers.CODEX_130: "codex 0.130", servers.CODEX_171: "codex 0.171"}


def build_table(results: dict[str, dict[str, dict[str, object]]], sizes: Sizes) -> list[dict]:
    table = []
    for row in rows_for(sizes):
        measured = results.get(row.key)
        if not measured:
            continue
        values: dict[str, float | None] = {}
        for kind in ALL:
            data = measured.get(kind) or {}
            raw = data.get(row.field) if "error" not in data else None
            values[kind] = float(raw) * row.scale if isinstance(raw, int | float) else None
        entry: dict[str, object] = {"workload": row.label, "unit": row.unit, **values}
        verdicts = []
        for kind in servers.CODEX_KINDS:
            ours, theirs = values["execsrv"], values[kind]
            ratio = ours / theirs if ours is not None and theirs else None
            entry[f"ratio_{kind}"] = ratio
            if row.op and ratio is not None:
                ok = ratio <= row.target if row.op == "<=" else ratio >= row.target
                verdicts.append("PASS" if ok else "MISS")
            elif row.op:
                verdicts.append("n/a")
        entry["target"] = f"{row.op} {row.target:g}x" if row.op else ""
        entry["result"] = "/".join(verdicts)  # against 0.130, then 0.171
        table.append(entry)
    return table


def print_table(table: list[dict]) -> None:
    header = ["workload", "unit", "execsrv"]
    for column in CODEX_COLUMNS.values():
        header += [column, "ratio"]
    header += ["target", "result (0.130/0.171)"]
    lines = [tuple(header)]
    for r in table:
        line = [r["workload"], r["unit"], _fmt(r["execsrv"])]
        for kind in CODEX_COLUMNS:
            ratio = r[f"ratio_{kind}"]
            line += [_fmt(r[kind]), f"{ratio:.3f}x" if ratio is not None else "-"]
        line += [r["target"], r["result"]]
        lines.append(tuple(line))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    right = {2, 3, 4, 5, 6}
    for n, line in enumerate(lines):
        cells = [
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(line, widths, strict=True))
        ]
        print("  ".join(cells).rstrip())
        if n == 0:
            print("  ".join("-" * w for w in widths))


def raise_fd_limit() -> tuple[int, int]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Run the same workloads against execsrv, codex exec-server 0.130 and "
        "codex exec-server 0.171; print the numbers, the ratios execsrv/codex and the target.",
    )
    parser.add_argument(
        "workloads",
        nargs="*",
        metavar="WORKLOAD",
        help=f"any of {', '.join(WORKLOADS)} (default: all)",
    )
    parser.add_argument("--quick", action="store_true", help="smaller sizes (about a minute)")
    parser.add_argument("--no-codex", action="store_true", help="measure execsrv only")
    parser.add_argument("--json", type=Path, default=RESULTS, help=f"default: {RESULTS}")
    args = parser.parse_args(argv)
    unknown = [w for w in args.workloads if w not in WORKLOADS]
    if unknown:
        parser.error(f"unknown workload(s) {unknown}; choose from {list(WORKLOADS)}")
    selected = args.workloads or list(WORKLOADS)
    sizes = QUICK if args.quick else Sizes()

    nofile = raise_fd_limit()
    binaries: Binaries = {}
    for kind in () if args.no_codex else servers.CODEX_KINDS:
        binary = servers.find_codex(kind)
        if binary is None:
            print(
                f"{kind} binary not found (run `nox -s interop` once, or set "
                f"{servers.CODEX_BIN_ENVS[kind]})"
            )
        else:
            binaries[kind] = binary
    kinds = ["execsrv", *binaries]
    facts = servers.machine_facts()
    facts["rlimit_nofile"] = nofile[0]
    commands = {
        "bench": shlex.join([sys.executable, "-m", "bench", *(argv or sys.argv[1:])]),
        **{kind: servers.describe_command(kind, binaries.get(kind)) for kind in kinds},
    }
    print("machine: " + ", ".join(f"{k}={v}" for k, v in facts.items()))
    for name, command in commands.items():
        print(f"command[{name}]: {command}")
    print(
        "client sockets: ordinary = no options; hidden = TCP_NODELAY + TCP_QUICKACK after "
        "every recv; rtt/throughput/fan-out/idle use TCP_NODELAY"
    )
    print(f"sizes: {asdict(sizes)}", flush=True)

    started = time.monotonic()
    for name in selected:
        for spec in WORKLOADS[name]:
            if isinstance(spec, Latency):
                run_latency(spec, kinds, binaries, sizes)
            elif isinstance(spec, Repeated):
                run_repeated(spec, kinds, binaries, sizes)
            else:
                run_fresh(spec, kinds, binaries, sizes)
    results = RESULTS_BY_KEY
    elapsed = time.monotonic() - started

    table = build_table(results, sizes)
    print()
    print_table(table)
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"\ntotal {elapsed:.1f} s; load average now {load} (other work on the machine skews)")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "quick": args.quick,
        "machine": facts,
        "commands": commands,
        "sizes": asdict(sizes),
        "table": table,
        "results": results,
        "seconds": elapsed,
        "loadavg_at_end": load,
    }
    args.json.write_text(json.dumps(report, indent=2, default=str) + "\n")
    print(f"wrote {args.json}")
    return 1 if any("error" in d for m in results.values() for d in m.values()) else 0
