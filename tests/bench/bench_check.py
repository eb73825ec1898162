"""Benchmark: how fast `netmedic check` reaches its verdict (prints figures; not a test).

    python -m tests.bench.bench_check [RUNS]

1. A closed loopback port: median wall time of `netmedic check` over RUNS runs (10),
   next to `nc -zv` and the bare interpreter start-up (`python -c pass`) measured in
   the same run.  Targets: netmedic's own work (check - bare start-up) <= 0.3 s, the
   whole process <= 0.5 s.
2. (root only) A varied fault set in the namespace lab, each with the wrong symptom
   picked on purpose, --timeout 2: time to verdict per fault, the median, and for the
   timeout-class faults the excess over the timeout (target <= 0.5 s), next to
   `nc -zv -w 2` on the same target.
"""

from __future__ import annotations

import json
import shutil
import socket
import statistics
import subprocess
import sys
import time

from tests.lab.netns import Lab, lab_unavailable_reason
from tests.lab.topology import build

CHECK = [sys.executable, "-m", "tui.cli", "check", "--json"]
TIMEOUT = 2.0

# (name, target, symptom picked, timeout-class?)
FAULTS = (
    ("refused port", "10.2.0.2:8099", "timeout", False),
    ("HTTP 503", "http://10.2.0.2:8090/", "refused", False),
    ("HTTP 401 on a bare port", "10.2.0.2:8093", "refused", False),
    ("SSH where HTTP was meant", "http://10.2.0.2:8022/", "refused", False),
    ("REJECT admin-prohibited", "10.2.0.2:8083", "refused", False),
    ("no route", "10.9.9.9:80", "timeout", False),
    ("firewall DROP", "10.2.0.2:8085", "auth", True),
    ("host down", "10.2.0.3:443", "tls", True),
)


def timed(args: list[str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    started = time.perf_counter()
    done = subprocess.run(args, capture_output=True, text=True, check=False)
    return time.perf_counter() - started, done


def median_wall(args: list[str], runs: int) -> float:
    return statistics.median(timed(args)[0] for _ in range(runs))


def closed_port(runs: int) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    bare = median_wall([sys.executable, "-c", "pass"], runs)
    closed = median_wall([*CHECK, f"127.0.0.1:{port}"], runs)
    nc = shutil.which("nc")
    ref = median_wall([nc, "-zv", "127.0.0.1", str(port)], runs) if nc else None
    print(f"closed loopback port (median of {runs}):")
    print(f"  netmedic check          {closed * 1000:7.0f} ms   (target: whole process <= 500 ms)")
    print(
        f"  netmedic's own work     {max(0.0, closed - bare) * 1000:7.0f} ms   (target <= 300 ms)"
    )
    print(f"  bare python start-up    {bare * 1000:7.0f} ms")
    if ref is not None:
        print(f"  nc -zv (reference)      {ref * 1000:7.0f} ms   ratio {closed / ref:.1f}x")
    else:
        print("  nc -zv: not installed (apt-get install netcat-openbsd)")


def fault_set(lab: Lab) -> None:
    topo = build(lab)
    lab.python(topo.server, "tests.lab.httpstatus", "10.2.0.2:8090=503", "10.2.0.2:8093=401")
    lab.python(topo.server, "tests.lab.tcpserver", r"SSH-2.0-OpenSSH_9.2 lab\r\n", "10.2.0.2:8022")
    topo.set_router_rules(
        "ip daddr 10.2.0.3 drop",
        "ip daddr 10.2.0.2 tcp dport 8085 drop",
        "ip daddr 10.2.0.2 tcp dport 8083 reject with icmp type admin-prohibited",
    )
    nc = shutil.which("nc")
    times = []
    print(f"\nfault set in the namespace lab, wrong symptom picked, --timeout {TIMEOUT:g}:")
    print(f"  {'fault':26} {'verdict':24} {'netmedic':>9} {'nc -zv':>8}")
    for name, target, symptom, timeout_class in FAULTS:
        args = [*CHECK, "--timeout", f"{TIMEOUT:g}", "--symptom", symptom, target]
        elapsed, done = timed(["ip", "netns", "exec", topo.client, *args])
        verdict = json.loads(done.stdout)["verdict"] if done.stdout else f"exit {done.returncode}"
        times.append(elapsed)
        host, _, port = (
            target.rpartition("/")[0].rpartition(":")
            if "//" in target
            else (target.rpartition(":"))
        )
        host = host.rpartition("/")[2] or host
        ref = ""
        if nc:
            port = port or ("443" if target.startswith("https") else "80")
            nc_s, _ = timed(
                ["ip", "netns", "exec", topo.client, nc, "-zv", "-w", f"{TIMEOUT:g}", host, port]
            )
            ref = f"{nc_s:7.2f}s"
        extra = f"  timeout + {elapsed - TIMEOUT:.2f} s (target <= 0.5)" if timeout_class else ""
        print(f"  {name:26} {verdict:24} {elapsed:8.2f}s {ref:>8}{extra}")
    print(f"  median time to verdict: {statistics.median(times):.2f} s (target <= 1.5 s)")


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    closed_port(runs)
    reason = lab_unavailable_reason()
    if reason:
        print(f"fault set skipped: {reason}")
        return
    with Lab("bench") as lab:
        fault_set(lab)


if __name__ == "__main__":
    main()
