"""The burst under load: what it says of a healthy server and of a full accept queue.

    python -m tests.bench.bench_burst [CONNECTIONS] [TIMEOUT_S]

One run, on loopback, through the real runner (its starvation clock and grace): a
healthy server that accepts and holds every client (its own thread), and a listener
with backlog 1 that never accepts.  For each load — idle; two busy-loop processes on
the 2 cores; those plus netmedic's own event loop blocked 100 and 300 ms at a time
(tests/loop_hog.py); and a loop that runs one step per blocked 300 ms (gap 0: every
connection waits for a CPU it does not get) — it prints opened / starved / the first
judged failure, the burst's limit findings, and its connect p50 with its clock.
Figures, not assertions: the healthy server should never read as a limit, the full
queue should read as tcp.backlog_full unless starvation left nothing to judge.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator

from probes.core.clocks import fine_ms
from probes.core.context import ProbeConfig
from probes.core.target import parse_target
from probes.proto.burst import BurstResult
from probes.run.runner import Run, run_to_end
from tests.loop_hog import busy_loop
from tests.servers.base import ServerThread

LOADS = (  # name, hog processes, loop block (s), gap between blocks (s)
    ("idle", 0, 0.0, 0.0),
    ("2 hogs", 2, 0.0, 0.0),
    ("2 hogs + loop 100ms", 2, 0.1, 0.002),
    ("2 hogs + loop 300ms", 2, 0.3, 0.002),
    ("2 hogs + loop 300ms, gap 0", 2, 0.3, 0.0),
)
LIMIT_IDS = ("tcp.backlog_full", "service.too_many_connections", "probe.unexplained")


async def _hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError):
        while await reader.read(1024):
            pass
    writer.close()


@contextlib.contextmanager
def _hogs(n: int) -> Iterator[None]:
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]
    try:
        yield
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()


@contextlib.asynccontextmanager
async def _loop_load(block_s: float, gap_s: float) -> AsyncIterator[None]:
    if not block_s:
        yield
        return
    async with busy_loop(block_s, gap_s):
        yield


def _burst(port: int, n: int, timeout_s: float, block_s: float, gap_s: float) -> str:
    config = ProbeConfig(timeout=timeout_s, burst=n, proxy_env=())
    the_run = Run(parse_target(f"127.0.0.1:{port}"), "too-many-connections", config, ("burst",))

    async def go() -> list[str]:
        async with _loop_load(block_s, gap_s):
            diagnosis = await run_to_end(the_run)
        return [f.id for f in diagnosis.findings if f.id in (*LIMIT_IDS, "probe.incomplete")]

    ids = asyncio.run(go())
    b = the_run.results["burst"].data
    if not isinstance(b, BurstResult):
        return f"no burst result: {the_run.results['burst'].summary}"
    connect = b.connect
    took = f"{fine_ms(connect.p50_s)} ({connect.clock})" if connect.p50_s is not None else "—"
    failed = f"#{b.first_failure} {b.failure}" if b.first_failure else "none"
    return (
        f"{b.opened:>3} held, {b.starved:>3} starved, first judged failure {failed:<12} "
        f"connect p50 {took:<22} {', '.join(ids) or 'no limit finding'}"
    )


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    timeout_s = float(sys.argv[2]) if len(sys.argv) > 2 else 2.0
    servers = ServerThread()
    healthy = servers.serve(_hold)
    print(
        f"burst of {n}, --timeout {timeout_s:g} (each connect waits {min(2.0, timeout_s / 2):g} s)"
    )
    try:
        for name, hogs, block_s, gap_s in LOADS:
            with _hogs(hogs):
                print(f"{name:<28} healthy: {_burst(healthy, n, timeout_s, block_s, gap_s)}")
                with socket.socket() as listener:
                    listener.bind(("127.0.0.1", 0))
                    listener.listen(1)  # and never accept()
                    port = listener.getsockname()[1]
                    told = _burst(port, n, timeout_s, block_s, gap_s)
                print(f"{'':<28} backlog 1: {told}")
    finally:
        servers.close()


if __name__ == "__main__":
    main()
