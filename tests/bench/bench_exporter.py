"""Benchmark: what ``netmedic exporter`` costs over the check it runs (prints figures; not a test).

    python -m tests.bench.bench_exporter [RUNS] [PROBES]

1. A healthy loopback HTTP target: median wall time of one ``GET /probe`` (RUNS, 20)
   next to the same journaled check called directly and the bare check (Run, no
   journal), all in one process.  blackbox_exporter's design target for this is the
   HTTP round trip itself: the exporter adds nothing a person would see on a scrape
   (here: /probe - journaled check, target <= 10 ms).
2. Memory: resident size (/proc/self/statm) after warm-up and every PROBES/10 probes up
   to PROBES (10,000) of a refused loopback port (the cheapest full check: ~0.1 s),
   8 at once.  Flat means the last figure within a few MB of the one after warm-up.

Journals go to a temporary XDG_STATE_HOME that is removed at the end.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from probes.core.context import ProbeConfig
from probes.core.target import parse_target
from probes.record.exporter_config import parse_exporter_config
from probes.run.runner import Run, run_to_end
from tests.exporter_lab import get, http_request, loopback_targets
from tui.exporter.checks import journaled_check
from tui.exporter.server import Exporter, start

PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_mb() -> float:
    with open("/proc/self/statm", encoding="ascii") as f:
        return int(f.read().split()[1]) * PAGE / 2**20


async def timed(make: Callable[[], Awaitable[None]]) -> float:
    started = time.perf_counter()
    await make()
    return time.perf_counter() - started


def spread(times: list[float]) -> str:
    q = statistics.quantiles(times, n=4)
    return f"median {statistics.median(times) * 1000:7.1f} ms  (quartiles {q[0] * 1000:.1f}-{q[2] * 1000:.1f})"


async def main(runs: int, probes: int, directory: Path) -> None:
    with loopback_targets(directory) as targets:
        toml = '[exporter]\nallow = ["127.0.0.1"]\nmax_rate = 1000\nmax_concurrent = 8\n'
        exporter = Exporter(parse_exporter_config(toml, "bench", {}), env={})
        server = await start(exporter, "127.0.0.1", 0)
        port = int(server.sockets[0].getsockname()[1])
        healthy = parse_target(targets.healthy)
        config = ProbeConfig(timeout=5.0)

        async def scrape() -> None:
            reply = await http_request(port, get(f"/probe?target={targets.healthy}"))
            assert reply.status == 200 and "probe_success 1" in reply.text, reply.text

        async def journaled() -> None:
            await journaled_check(healthy, "auto", config, 5.0)

        async def bare() -> None:
            await run_to_end(Run(healthy, "auto", config), settle=True)

        await scrape()  # warm-up: imports, first TLS/HTTP client set-up
        ways = {"bare check (Run)": bare, "journaled check": journaled, "GET /probe": scrape}
        times: dict[str, list[float]] = {name: [] for name in ways}
        for _ in range(runs):  # interleaved: drift in the machine's load hits all three
            for name, way in ways.items():
                times[name].append(await timed(way))
        print(f"1. one /probe of a healthy loopback HTTP target, {runs} rounds:")
        for name, measured in times.items():
            print(f"   {name:<28}{spread(measured)}")
        paired = [p - j for p, j in zip(times["GET /probe"], times["journaled check"], strict=True)]
        print(
            f"   exporter over the check     median {statistics.median(paired) * 1000:+7.1f} ms"
            " (target <= 10 ms)"
        )

        refused = get(f"/probe?target={targets.refused}")
        lock = asyncio.Semaphore(8)

        async def one() -> None:
            async with lock:
                reply = await http_request(port, refused)
                assert reply.status == 200, reply.text

        await asyncio.gather(*(one() for _ in range(100)))
        base = rss_mb()
        print(f"2. RSS over {probes} probes of a refused port (8 at once):")
        print(f"   after 100 warm-up probes    {base:8.1f} MB")
        step = max(1, probes // 10)
        done = 0
        started = time.perf_counter()
        while done < probes:
            batch = min(step, probes - done)
            await asyncio.gather(*(one() for _ in range(batch)))
            done += batch
            print(
                f"   after {done:>6} probes         {rss_mb():8.1f} MB"
                f"   ({done / (time.perf_counter() - started):.1f} probes/s)",
                flush=True,
            )
        print(f"   growth                      {rss_mb() - base:+8.1f} MB")
        await exporter.unconnected()
        server.close()
        await server.wait_closed()


if __name__ == "__main__":
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    probes = int(sys.argv[2]) if len(sys.argv) > 2 else 10_000
    state = Path(tempfile.mkdtemp(prefix="netmedic-bench-"))
    os.environ["XDG_STATE_HOME"] = str(state)
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy"):
        os.environ.pop(name, None)
    try:
        asyncio.run(main(runs, probes, state))
    finally:
        shutil.rmtree(state, ignore_errors=True)
