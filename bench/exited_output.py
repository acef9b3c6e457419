"""Server RSS while many closed processes keep their output, and once they are forgotten.

``python -m bench.exited_output [--processes N] [--codex]``: one connection runs N
``head -c 1M /dev/urandom`` one after another, each to ``process/closed``; RSS is
read then (the exited-retention window: closed output is capped by
``--exited-retention-bytes``) and again once every process has been forgotten
(the default 30 s exited retention, plus a margin): freed output must go back to
the OS, not stay in the allocator's heap.
"""

from __future__ import annotations

import argparse
import json
import time

from .servers import find_codex, memory_kb, start
from .workloads import _start_params
from .wsclient import WsClient

OUTPUT_BYTES = 1 << 20
FORGOTTEN_AFTER = 30.0 + 3.0
"""Both servers' exited retention and detached-session TTL (30 s), plus a margin."""


def exited_output(kind: str, codex_bin: str | None, processes: int) -> dict[str, object]:
    with start(kind, codex_bin) as server:
        client = WsClient(server.url, mode="nodelay")
        try:
            client.initialize()
            before = memory_kb(server.pid)["VmRSS"]
            for index in range(processes):
                process_id = f"out-{index}"
                argv = ["head", "-c", str(OUTPUT_BYTES), "/dev/urandom"]
                client.call("process/start", _start_params(process_id, argv))
                closed = False
                while not closed:
                    for message in client.recv():
                        if message.method == "process/closed":
                            closed = message.params.processId == process_id
            window = memory_kb(server.pid)
        finally:
            client.close()  # this client answers no pings while the bench sleeps
        time.sleep(FORGOTTEN_AFTER)
        later = WsClient(server.url, mode="nodelay")
        try:
            later.initialize()
            after = memory_kb(server.pid)["VmRSS"]
        finally:
            later.close()
    return {
        "server": kind,
        "processes": processes,
        "rss_before_mib": before >> 10,
        "rss_window_mib": window["VmRSS"] >> 10,
        "peak_rss_mib": window["VmHWM"] >> 10,
        "rss_after_forgotten_mib": after >> 10,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=300)
    parser.add_argument("--codex", action="store_true", help="measure codex too")
    args = parser.parse_args()
    kinds = ["execsrv"] + (["codex-0.130"] if args.codex else [])
    codex_bin = find_codex() if args.codex else None
    for kind in kinds:
        print(json.dumps(exited_output(kind, codex_bin, args.processes)))


if __name__ == "__main__":
    main()
