"""Path probe benchmarks in the namespace lab, side by side with ping, traceroute and mtr.

    sudo .venv/bin/python -m tests.bench.bench_path

Prints, in one run:
  * RTT: median RTT of netmedic's ping vs `ping` over a link delayed 10 ms each
    way by a userspace delaying bridge (tests/lab/delaybridge.py);
  * loss: netmedic's and `ping`'s loss over 200 probes with 20% random loss on
    one link of the chain;
  * traceroute: time until netmedic knows the full path of the 5-hop chain with
    one silent hop, vs the wall time of `traceroute -n` and `mtr -n -r -c 1`;
  * memory: RSS after 3,600 fast pings vs after 100.
Figures are measurements, not assertions.
"""

from __future__ import annotations

import asyncio
import json
import re
import resource
import statistics
import sys
import time
from typing import Any

from tests.lab import chain as C
from tests.lab.netns import Lab

DELAY_MS = 10.0


# -- inside the client namespace -------------------------------------------------


def _rss_kb() -> int:
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


async def _inner(kind: str, target: str, extra: dict[str, Any]) -> dict[str, Any]:
    from probes.core.context import ProbeConfig, ProbeContext
    from probes.core.target import parse_target
    from probes.path.ping import PingData, probe_ping
    from probes.path.trace import TraceData, probe_trace

    ctx = ProbeContext(parse_target(target), ProbeConfig(**extra))
    started = time.monotonic()
    out: dict[str, Any] = {}
    try:
        if kind == "ping":
            rss_100 = 0
            async for result in probe_ping(ctx):
                data = result.data
                if isinstance(data, PingData):
                    host = data.hosts[0]
                    if not rss_100 and host.stats.sent >= 100:
                        rss_100 = _rss_kb()
                    if result.final:
                        rtts = [s.rtt_s for s in host.recent if s.rtt_s is not None]
                        out = {
                            "sent": host.stats.sent,
                            "received": host.stats.received,
                            "loss_pct": host.stats.loss_pct,
                            "median_ms": statistics.median(rtts) * 1000 if rtts else None,
                            "rss_100_kb": rss_100,
                            "rss_end_kb": _rss_kb(),
                            "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                            "mode": data.mode,
                        }
        else:
            known_at = None
            path: list[str] = []
            async for result in probe_trace(ctx):
                data = result.data
                if not isinstance(data, TraceData):
                    continue
                answered = [h.address or "*" for h in data.hops]
                if known_at is None and data.reached and answered == extra_expected(target):
                    known_at = time.monotonic() - started
                    path = answered
            out = {"known_s": known_at, "path": path, "total_s": time.monotonic() - started}
    finally:
        ctx.close()
    return out


def extra_expected(target: str) -> list[str]:
    hops = C.HOPS_V4
    return [hops[0], "*", *hops[2:]]


def inner_main(argv: list[str]) -> None:
    kind, target, raw = argv
    result = asyncio.run(_inner(kind, target, json.loads(raw)))
    print(json.dumps(result))


# -- the lab ------------------------------------------------------------------


def _inner_run(lab: Lab, ns: str, kind: str, target: str, **config: Any) -> dict[str, Any]:
    done = lab.run(
        ns,
        [sys.executable, "-m", "tests.bench.bench_path", "inner", kind, target, json.dumps(config)],
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr)
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def _timed(lab: Lab, ns: str, args: list[str]) -> tuple[float, str]:
    started = time.monotonic()
    done = lab.run(ns, args, timeout=120)
    return time.monotonic() - started, done.stdout


def bench_rtt(lab: Lab) -> None:
    client = lab.add_host("bc")
    delay = lab.add_host("bd")
    server = lab.add_host("bs")
    lab.link(client, "eth0", ["10.20.0.1/24"], delay, "dla", [])
    lab.link(delay, "dlb", [], server, "eth0", ["10.20.0.2/24"])
    lab.python(delay, "tests.lab.delaybridge", "dla", "dlb", str(DELAY_MS))
    lab.run(client, ["ping", "-c", "2", "-W", "2", "--", "10.20.0.2"])
    _secs, out = _timed(lab, client, ["ping", "-c", "50", "-i", "0.05", "--", "10.20.0.2"])
    ref = [float(m) for m in re.findall(r"time=([\d.]+) ms", out)]
    ours = _inner_run(
        lab, client, "ping", "10.20.0.2:9", timeout=2, ping_count=50, ping_interval=0.05,
        ping_duration=0,
    )  # fmt: skip
    ref_median = statistics.median(ref)
    diff = abs(ours["median_ms"] - ref_median)
    print(f"RTT over a {DELAY_MS:g} ms-each-way userspace delaying bridge, 50 probes:")
    print(f"  netmedic ping ({ours['mode']}) median {ours['median_ms']:.3f} ms")
    print(f"  ping                    median {ref_median:.3f} ms")
    print(
        f"  difference {diff:.3f} ms ({100 * diff / ref_median:.1f}%)  "
        f"[target: within 10% or 0.1 ms]"
    )


def bench_loss(lab: Lab, ch: C.Chain) -> None:
    ch.rules("r3", forward='oifname "r3" numgen random mod 100 < 20 drop')
    ours = _inner_run(
        lab, ch.client, "ping", f"{C.SERVER_V4}:22", timeout=1, ping_count=200,
        ping_interval=0.01, ping_duration=0,
    )  # fmt: skip
    _secs, out = _timed(
        lab, ch.client, ["ping", "-c", "200", "-i", "0.01", "-W", "1", "-q", "--", C.SERVER_V4]
    )
    m = re.search(r"([\d.]+)% packet loss", out)
    ref = float(m.group(1)) if m else float("nan")
    print("Loss with 20% random drop on the r3->r4 link, 200 probes:")
    print(f"  netmedic ping {ours['loss_pct']:.1f}%   ping {ref:.1f}%   [target: 20 ± 5]")
    ch.clear()


def bench_trace(lab: Lab, ch: C.Chain) -> None:
    ch.rules("r2", output="icmp type time-exceeded drop")
    started = time.monotonic()
    ours = _inner_run(
        lab, ch.client, "trace", f"{C.SERVER_V4}:22", timeout=3, trace_rounds=3,
        trace_interval=0.2, trace_duration=0,
    )  # fmt: skip
    process_s = time.monotonic() - started
    tr_s, _tr_out = _timed(lab, ch.client, ["traceroute", "-n", "--", C.SERVER_V4])
    mtr_s, _mtr_out = _timed(lab, ch.client, ["mtr", "-n", "-r", "-c", "1", C.SERVER_V4])
    known = ours["known_s"]
    print("Traceroute, 5-hop chain, hop 2 silent:")
    print(f"  netmedic knows the full path after {known:.3f} s: {' '.join(ours['path'])}")
    print(
        "    (from probe start, including the lazy scapy import; the whole process with "
        f"3 rounds and Python start-up took {process_s:.3f} s)"
    )
    print(f"  traceroute -n      {tr_s:.3f} s wall  (traceroute / netmedic = {tr_s / known:.2f})")
    print(f"  mtr -n -r -c 1     {mtr_s:.3f} s wall  (mtr / netmedic = {mtr_s / known:.2f})")
    print("  [target: netmedic <= 1.5 s]")
    ch.clear()


def bench_memory(lab: Lab, ch: C.Chain) -> None:
    ours = _inner_run(
        lab, ch.client, "ping", f"{C.SERVER_V4}:22", timeout=1, ping_count=3600,
        ping_interval=0.002, ping_duration=0,
    )  # fmt: skip
    growth = (ours["rss_end_kb"] - ours["rss_100_kb"]) / 1024
    print("Memory, 3,600 pings at 2 ms intervals:")
    print(
        f"  RSS after 100: {ours['rss_100_kb'] / 1024:.1f} MB, after 3600: "
        f"{ours['rss_end_kb'] / 1024:.1f} MB, growth {growth:+.2f} MB  [target: within 5 MB]"
    )
    print(f"  ({ours['received']}/{ours['sent']} answered)")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "inner":
        inner_main(sys.argv[2:])
        return
    with Lab("bench") as lab:
        bench_rtt(lab)
        ch = C.build(lab)
        lab.run(ch.client, ["ping", "-c", "1", "-W", "2", "--", C.SERVER_V4])
        bench_loss(lab, ch)
        bench_trace(lab, ch)
        bench_memory(lab, ch)


if __name__ == "__main__":
    main()
