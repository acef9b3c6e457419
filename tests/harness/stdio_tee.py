"""Run a stdio exec-server and record every line both ways: the harness's ``program``.

Usage: ``python stdio_tee.py LOG -- SERVER_ARGV...``. Lines from the harness are
written to LOG as ``C <line>``, lines from the server as ``S <line>``. When the
harness closes stdin, the server's stdin is closed too and the tee exits with the
server's status, so the server sees exactly the stdio lifetime it would see alone.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from typing import IO


def _copy(
    source: IO[bytes], sink: IO[bytes], log: IO[bytes], prefix: bytes, lock: threading.Lock
) -> None:
    for line in iter(source.readline, b""):
        sink.write(line)
        sink.flush()
        with lock:
            log.write(prefix + line if line.endswith(b"\n") else prefix + line + b"\n")
            log.flush()
    sink.close()


def main() -> int:
    log_path, separator, *server = sys.argv[1:]
    if separator != "--" or not server:
        sys.exit(__doc__)
    lock = threading.Lock()
    with open(log_path, "ab") as log:
        child = subprocess.Popen(server, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        assert child.stdin is not None
        assert child.stdout is not None
        inbound = threading.Thread(
            target=_copy, args=(sys.stdin.buffer, child.stdin, log, b"C ", lock), daemon=True
        )
        inbound.start()
        _copy(child.stdout, sys.stdout.buffer, log, b"S ", lock)
        return child.wait()


if __name__ == "__main__":
    sys.exit(main())
