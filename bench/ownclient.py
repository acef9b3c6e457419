"""Workload 7: execsrv's own trio client receiving N bytes from execsrv."""

from __future__ import annotations

import trio

from .servers import CpuWatch, Server
from .workloads import ENV, Sizes


async def _receive(url: str, total: int) -> tuple[int, int]:
    import execsrv

    received = 0
    events = 0
    async with execsrv.connect(url, client_name="bench") as client:
        process = await client.start_process(["head", "-c", str(total), "/dev/zero"], env=ENV)
        async for event in process.events:
            events += 1
            if isinstance(event, execsrv.Output):
                received += len(event.data)
            elif isinstance(event, execsrv.Closed | execsrv.Failed | execsrv.Gap):
                if not isinstance(event, execsrv.Closed):
                    raise RuntimeError(f"stream ended with {event!r}")
                break
    return received, events


def own_client_throughput(server: Server, sizes: Sizes) -> dict[str, object]:
    total = sizes.client_bytes
    watch = CpuWatch(server.pid)
    received, events = trio.run(_receive, server.url, total)
    watch.stop()
    wall = watch.seconds
    if received != total:
        raise RuntimeError(f"received {received} of {total} bytes")
    return {
        "bytes": received,
        "seconds": wall,
        "mb_per_s": received / wall / 1e6,
        "events": events,
        **watch.percents(own="client_cpu_pct"),
    }
