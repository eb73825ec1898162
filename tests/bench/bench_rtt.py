"""Round trips by the kernel's clock next to `ping`, idle and with the CPU saturated.

    sudo .venv/bin/python -m tests.bench.bench_rtt [PROBES]

Prints, in one run, for loopback (inside a lab namespace) and through the 5-hop
namespace chain (tests/lab/chain.py): idle; with two busy-loop processes saturating
both cores; and with those plus netmedic's own event loop blocked 20 ms at a time
(tests/loop_hog.py, as when many probes share it):
  * the median RTT of iputils `ping` and of netmedic's ping (raw ICMP, kernel
    receive stamps), their difference, and which clock netmedic's figure came from;
  * netmedic's TCP connect to the same host: the kernel's handshake RTT
    (TCP_INFO) and the same connect by our own clock, for contrast.
Target: netmedic's ping within 0.1 ms or 5% of `ping`.  Figures, not assertions.
"""

from __future__ import annotations

import asyncio
import json
import re
import statistics
import subprocess
import sys
from typing import Any

from tests.lab import chain as C
from tests.lab.netns import Lab

PROBES = 50
INTERVAL_S = 0.02
TCP_PORT = 8080

# -- inside the client namespace -------------------------------------------------


async def _inner(address: str, count: int, block_ms: float) -> dict[str, Any]:
    if not block_ms:
        return await _measure(address, count)
    from tests.loop_hog import busy_loop

    async with busy_loop(block_ms / 1000):
        return await _measure(address, count)


async def _measure(address: str, count: int) -> dict[str, Any]:
    from probes.core.context import ProbeConfig, ProbeContext
    from probes.core.target import endpoint, parse_target
    from probes.path.ping import PingData, probe_ping
    from probes.wire.connect import connect_once

    config = ProbeConfig(
        timeout=2, ping_count=count, ping_interval=INTERVAL_S, ping_duration=0, proxy_env=()
    )
    ctx = ProbeContext(parse_target(endpoint(address, TCP_PORT)), config)
    out: dict[str, Any] = {}
    try:
        async for result in probe_ping(ctx):
            data = result.data
            if result.final and isinstance(data, PingData):
                host = data.hosts[0]
                rtts = [s.rtt_s for s in host.recent if s.rtt_s is not None]
                out.update(
                    mode=data.mode,
                    clock=host.clock,
                    received=host.stats.received,
                    ping_ms=statistics.median(rtts) * 1000 if rtts else None,
                )
    finally:
        ctx.close()
    kernel, wall = [], []
    for _ in range(count // 2):
        attempt = await connect_once(address, TCP_PORT, 2.0, 0.0)
        if attempt.kernel_connect_s is not None:
            kernel.append(attempt.kernel_connect_s)
        wall.append(attempt.elapsed_s)
    out["tcp_kernel_ms"] = statistics.median(kernel) * 1000 if kernel else None
    out["tcp_wall_ms"] = statistics.median(wall) * 1000 if wall else None
    return out


# -- outside ----------------------------------------------------------------------


def _ours(lab: Lab, ns: str, address: str, count: int, block_ms: float) -> dict[str, Any]:
    done = lab.run(
        ns, [sys.executable, "-m", "tests.bench.bench_rtt", "inner", address, str(count),
             str(block_ms)],
        timeout=300,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(done.stderr)
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def _ping(lab: Lab, ns: str, address: str, count: int) -> float:
    done = lab.run(
        ns, ["ping", "-n", "-c", str(count), "-i", str(INTERVAL_S), "-W", "2", "--", address],
        timeout=120,
    )  # fmt: skip
    times = [float(m) for m in re.findall(r"time=([\d.]+) ms", done.stdout)]
    return statistics.median(times) if times else float("nan")


def _hogs(n: int) -> list[subprocess.Popen[bytes]]:
    """*n* busy-loop processes: together with the bench's own, more work than cores."""
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]


def _row(where: str, load: str, ping_ms: float, ours: dict[str, Any]) -> str:
    mine = ours.get("ping_ms")
    if mine is None:
        return f"  {where:<9} {load:<13} ping {ping_ms:8.3f} ms   netmedic: no answers"
    diff = abs(mine - ping_ms)
    within = diff <= 0.1 or diff <= 0.05 * ping_ms
    tcp_k, tcp_w = ours.get("tcp_kernel_ms"), ours.get("tcp_wall_ms")
    tcp = (
        f"tcp {tcp_k:.3f} ms (kernel) / {tcp_w:.3f} ms (our clock)"
        if tcp_k is not None and tcp_w is not None
        else "tcp: no kernel figure"
    )
    return (
        f"  {where:<9} {load:<13} ping {ping_ms:8.3f} ms   netmedic {mine:8.3f} ms "
        f"({ours['clock']}, {ours['mode']}, {ours['received']} answers)   "
        f"diff {diff:.3f} ms ({100 * diff / ping_ms:.1f}%) {'ok' if within else 'OFF'}   {tcp}"
    )


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "inner":
        print(json.dumps(asyncio.run(_inner(sys.argv[2], int(sys.argv[3]), float(sys.argv[4])))))
        return
    count = int(sys.argv[1]) if len(sys.argv) > 1 else PROBES
    with Lab("rttb") as lab:
        ch = C.build(lab)
        lab.python(ch.client, "tests.lab.tcpserver", "", f"127.0.0.1:{TCP_PORT}")
        lab.python(ch.server, "tests.lab.tcpserver", "", f"{C.SERVER_V4}:{TCP_PORT}")
        lab.run(ch.client, ["ping", "-c", "2", "-W", "2", "--", C.SERVER_V4])  # neighbours
        targets = (("loopback", "127.0.0.1"), ("chain", C.SERVER_V4))
        print(
            f"RTT, median of {count} probes every {INTERVAL_S * 1000:.0f} ms; TCP: median of "
            f"{count // 2} connects  [target: netmedic's ping within 0.1 ms or 5% of ping]"
        )
        for load, hogs, block_ms in (("idle", 0, 0), ("2 hogs", 2, 0), ("2 hogs + loop", 2, 20)):
            procs = _hogs(hogs)
            try:
                for where, address in targets:
                    ours = _ours(lab, ch.client, address, count, block_ms)
                    reference = _ping(lab, ch.client, address, count)
                    print(_row(where, load, reference, ours), flush=True)
            finally:
                for proc in procs:
                    proc.kill()
                    proc.wait()


if __name__ == "__main__":
    main()
