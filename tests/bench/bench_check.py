"""Benchmark: how fast `netmedic check` answers (prints figures; not a test).

    python -m tests.bench.bench_check

1. A closed loopback port: median wall time of `netmedic check` over 10 runs, next
   to the bare interpreter start-up (`python -c pass`) measured in the same run.
2. (root only) A router DROP in the namespace lab with --timeout 2: probes run
   concurrently, so the answer comes after about one timeout, not the sum of them.
"""

from __future__ import annotations

import socket
import statistics
import subprocess
import sys
import time

from tests.lab.netns import Lab, lab_unavailable_reason
from tests.lab.topology import build

CHECK = [sys.executable, "-m", "tui.cli", "check", "--json"]


def wall(args: list[str], runs: int = 10) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(args, capture_output=True, check=False)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    bare = wall([sys.executable, "-c", "pass"])
    closed = wall([*CHECK, f"127.0.0.1:{port}"])
    print(
        f"closed loopback port: netmedic check {closed * 1000:.0f} ms (median of 10); "
        f"bare python start-up {bare * 1000:.0f} ms; netmedic's own work {max(0.0, closed - bare) * 1000:.0f} ms"
    )

    reason = lab_unavailable_reason()
    if reason:
        print(f"DROP case skipped: {reason}")
        return
    with Lab("bench") as lab:
        topo = build(lab)
        topo.set_router_rules("tcp dport 8082 drop")
        started = time.perf_counter()
        lab.run(topo.client, [*CHECK, "--timeout", "2", "10.2.0.2:8082"])
        elapsed = time.perf_counter() - started
        print(
            f"router DROP, --timeout 2: answered in {elapsed:.2f} s "
            f"(timeout + {elapsed - 2:.2f} s; dns, route and tcp ran concurrently)"
        )


if __name__ == "__main__":
    main()
