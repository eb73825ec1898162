"""The connection sampler's times by the kernel and by our clock, next to `curl -w` and `ping`.

    python -m tests.bench.bench_sampler [ATTEMPTS] [THINK_S]

One run, on loopback: an HTTP server (tests/lab/httpstatus.py, its own process) that
waits THINK_S (default 0.3) before its first byte.  For each load — idle; two
busy-loop processes on the 2 cores; those plus netmedic's own event loop blocked 20,
100 and 300 ms at a time (tests/loop_hog.py, as when many probes share it) — it prints:
  * the sampler's connect p50 by the kernel (TCP_INFO handshake RTT) and by our clock;
  * its first byte p50 (the server's think time) by the kernel (last data sent -> last
    data received) and by our clock, and how many attempts were starved;
  * `curl -I -w` for the same URL (time_connect; time_starttransfer - time_pretransfer)
    and `ping` to 127.0.0.1, under the same load.
Figures, not assertions: the kernel's columns should stay at loopback's ~0.03 ms and
THINK_S while our clock's grow with the load.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import statistics
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

ATTEMPTS = 20
THINK_S = 0.3
LOADS = (
    ("idle", 0, 0),
    ("2 hogs", 2, 0),
    ("2 hogs + loop 20ms", 2, 20),
    ("2 hogs + loop 100ms", 2, 100),
    ("2 hogs + loop 300ms", 2, 300),
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def _server(think_s: float) -> Iterator[str]:
    port = _free_port()
    endpoint = f"127.0.0.1:{port}=200/{think_s:g}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.lab.httpstatus", endpoint],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        proc.stdout.readline()  # "ready"
        yield f"http://127.0.0.1:{port}/"
    finally:
        proc.kill()
        proc.wait()


@contextlib.contextmanager
def _hogs(n: int) -> Iterator[None]:
    """*n* busy-loop processes: with the bench's own, more work than cores."""
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]
    try:
        yield
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()


def _median_ms(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return statistics.median(known) * 1000 if known else None


def _max_ms(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return max(known) * 1000 if known else None


async def _sample(url: str, attempts: int, think_s: float, block_ms: float) -> dict[str, Any]:
    """The sampler in a real Run (its starvation clock included), the loop blocked
    *block_ms* at a time when asked."""
    from probes.core.clocks import KERNEL
    from probes.core.context import ProbeConfig
    from probes.core.target import parse_target
    from probes.proto.sampler import STARVED, SamplerData
    from probes.run.runner import Run, run_to_end
    from tests.loop_hog import busy_loop

    # A duration long enough for every attempt (it bounds the probe's deadline too).
    config = ProbeConfig(
        timeout=5.0,
        sample_interval=0.05,
        sample_count=attempts,
        sample_duration=attempts * (think_s + 0.5),
        proxy_env=(),
    )
    run = Run(parse_target(url), "intermittent", config, plan=("connections",))
    if block_ms:
        async with busy_loop(block_ms / 1000):
            await run_to_end(run)
    else:
        await run_to_end(run)
    result = run.results["connections"]
    data = result.data
    assert isinstance(data, SamplerData), result.summary
    judged = [a for a in data.recent if a.outcome != STARVED]
    return {
        "connect_kernel": _median_ms([a.connect_s for a in judged if a.connect_clock == KERNEL]),
        "connect_wall": _median_ms([a.connect_wall_s for a in judged]),
        "first_kernel": _median_ms(
            [a.first_byte_s for a in judged if a.first_byte_clock == KERNEL]
        ),
        "first_wall": _median_ms([a.first_byte_wall_s for a in judged]),
        "wall_max": (
            _max_ms([a.connect_wall_s for a in judged]),
            _max_ms([a.first_byte_wall_s for a in judged]),
        ),
        "p50": (data.connect.text(), data.first_byte.text()),
        "ok": dict(data.kinds).get("ok", 0),
        "starved": data.starved,
        "sent": data.sent,
    }


def _curl(url: str, attempts: int) -> tuple[float | None, float | None]:
    connect: list[float | None] = []
    first: list[float | None] = []
    for _ in range(attempts):
        done = subprocess.run(
            ["curl", "-s", "-I", "-o", "/dev/null", "-m", "10", "-w",
             "%{time_connect} %{time_pretransfer} %{time_starttransfer}", "--", url],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        try:
            c, pre, start = (float(x) for x in done.stdout.split())
        except ValueError:
            continue
        connect.append(c)
        first.append(start - pre)
    return _median_ms(connect), _median_ms(first)


def _ping(attempts: int) -> float | None:
    done = subprocess.run(
        ["ping", "-n", "-q", "-c", str(attempts), "-i", "0.02", "--", "127.0.0.1"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    # rtt min/avg/max/mdev = 0.021/0.035/0.060/0.010 ms
    for line in done.stdout.splitlines():
        if "min/avg/max" in line:
            return float(line.split("=")[1].split("/")[1])
    return None


def _f(value: float | None, width: int = 8) -> str:
    return f"{'—':>{width}}" if value is None else f"{value:{width}.3f}"


def main() -> None:
    attempts = int(sys.argv[1]) if len(sys.argv) > 1 else ATTEMPTS
    think = float(sys.argv[2]) if len(sys.argv) > 2 else THINK_S
    print(
        f"Sampler on loopback, {attempts} attempts per load; the server thinks {think * 1000:.0f} ms "
        "before its first byte.  Medians in ms.  curl: time_connect, starttransfer - pretransfer; "
        "ping: avg of 127.0.0.1."
    )
    print(
        f"  {'load':<20} {'connect: kernel':>15} {'our clock':>9} {'curl':>8} {'ping':>8}   "
        f"{'first byte: kernel':>18} {'our clock':>9} {'curl':>8}   attempts"
    )
    with _server(think) as url:
        for load, hogs, block_ms in LOADS:
            with _hogs(hogs):
                ours = asyncio.run(_sample(url, attempts, think, block_ms))
                curl_connect, curl_first = _curl(url, attempts)
                ping = _ping(attempts * 5)
            print(
                f"  {load:<20} {_f(ours['connect_kernel'], 15)} {_f(ours['connect_wall'], 9)} "
                f"{_f(curl_connect)} {_f(ping)}   {_f(ours['first_kernel'], 18)} "
                f"{_f(ours['first_wall'], 9)} {_f(curl_first)}   "
                f"{ours['ok']}/{ours['sent']} ok, {ours['starved']} starved",
                flush=True,
            )
            print(f"  {'':<20} as shown: connect {ours['p50'][0]}; first byte {ours['p50'][1]}")
            connect_max, first_max = ours["wall_max"]
            print(
                f"  {'':<20} our clock's max: connect {_f(connect_max, 0)} ms, "
                f"first byte {_f(first_max, 0)} ms"
            )


if __name__ == "__main__":
    main()
