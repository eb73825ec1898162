"""Benchmark: local evidence on a busy host against ``ss -tanp``.

    sudo python tests/bench/bench_local.py [--connections 20000] [--rounds 5]

Opens N established loopback connections (2N sockets, both ends held by
worker processes of at most 10,000 connections each, so no process needs more
than ~20,000 descriptors; several listener ports and source addresses), then
times, in the same run:

* ``collect_local()`` — the local probe's whole blocking part: the sock_diag
  dump, the owner walk over /proc/*/fd, process details, aggregation,
  kernel-log and /proc reads;
* ``ss -tanp`` with its output read through a pipe.

It prints the median of each and the ratio (target: at most 1.5x ss).  Not a
test: wall-clock figures belong in a benchmark, never in an assertion.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import selectors
import shutil
import socket
import statistics
import subprocess
import sys
import time
from multiprocessing.connection import Connection
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from probes.host.local import collect_local
from probes.host.procinfo import map_owners

PORTS_PER_LISTENER = 5000
PER_WORKER = 5000


def raise_fd_limit(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= needed:
        return
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(needed, hard), max(needed, hard)))
    except (ValueError, OSError):
        if hard < needed:
            sys.exit(f"need {needed} open files (hard limit {hard}): run as root")
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def worker(count: int, offset: int, pipe: Connection) -> None:
    raise_fd_limit(2 * count + 200)
    held, ports = open_connections(count, offset)
    pipe.send(ports)
    pipe.recv()  # until the parent is done measuring
    for sock in held:
        sock.close()


def open_connections(count: int, offset: int = 0) -> tuple[list[socket.socket], list[int]]:
    """*count* established loopback connections; returns (sockets, listener ports)."""
    held: list[socket.socket] = []
    listeners: list[socket.socket] = []
    for _ in range((count + PORTS_PER_LISTENER - 1) // PORTS_PER_LISTENER):
        srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        srv.bind(("127.0.0.1", 0))
        srv.listen(4096)
        srv.setblocking(False)
        listeners.append(srv)
    sel = selectors.DefaultSelector()
    for srv in listeners:
        sel.register(srv, selectors.EVENT_READ)
    made = accepted = 0
    while accepted < count:
        while made < count and made - accepted < 2000:
            srv = listeners[made % len(listeners)]
            # Several source addresses keep each (src, dst) pair well inside the
            # ephemeral range whatever its size.
            src = f"127.{1 + offset}.{1 + made // PORTS_PER_LISTENER}.{1 + made % 200}"
            client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            client.bind((src, 0))
            client.setblocking(False)
            try:
                client.connect(srv.getsockname())
            except BlockingIOError:
                pass
            held.append(client)
            made += 1
        for key, _ in sel.select(1.0):
            lsock = key.fileobj
            assert isinstance(lsock, socket.socket)
            while True:
                try:
                    conn, _ = lsock.accept()
                except BlockingIOError:
                    break
                held.append(conn)
                accepted += 1
    held.extend(listeners)
    return held, [s.getsockname()[1] for s in listeners]


def time_it(fn: object, rounds: int) -> list[float]:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    ss = shutil.which("ss")
    if ss is None:
        sys.exit("ss (iproute2) is not installed")
    print(f"opening {args.connections} established loopback connections ...", flush=True)
    started = time.perf_counter()
    workers = []
    ports: list[int] = []
    left, offset = args.connections, 0
    while left > 0:
        n = min(PER_WORKER, left)
        mine, theirs_end = mp.Pipe()
        proc = mp.Process(target=worker, args=(n, offset, theirs_end), daemon=True)
        proc.start()
        workers.append((proc, mine))
        left -= n
        offset += 1
    for _proc, pipe in workers:
        ports.extend(pipe.recv())
    print(
        f"  {2 * args.connections} sockets in {len(workers)} processes in "
        f"{time.perf_counter() - started:.1f}s, listener ports {ports}"
    )

    target_port = ports[0]
    data = collect_local(("127.0.0.1",), target_port)  # warm up (imports, caches)
    ours = time_it(lambda: collect_local(("127.0.0.1",), target_port), args.rounds)

    # The probe stops walking /proc/*/fd once every socket it needs has an
    # owner; ss -p maps every socket.  Time a walk over every fd as well.
    full_walk = time_it(lambda: map_owners([-1]), args.rounds)

    def run_ss() -> None:
        done = subprocess.run([ss, "-tanp"], capture_output=True, check=True)
        assert done.stdout.count(b"\n") > args.connections

    run_ss()
    theirs = time_it(run_ss, args.rounds)

    ours_med, theirs_med = statistics.median(ours), statistics.median(theirs)
    states = ", ".join(f"{s.count} {s.state}" for s in data.states[:3])
    print(f"  netmedic saw {data.total} TCP connections ({states}) via {data.source}")
    if data.target.server is not None:
        print(f"  port {target_port}: {data.target.server.total} connections on the server side")
    print(
        f"collect+aggregate  median {ours_med * 1000:7.1f} ms  (runs: {_ms(ours)})\n"
        f"  (full /proc/*/fd owner walk alone: median "
        f"{statistics.median(full_walk) * 1000:.1f} ms)\n"
        f"ss -tanp           median {theirs_med * 1000:7.1f} ms  (runs: {_ms(theirs)})\n"
        f"ratio              {ours_med / theirs_med:.2f}x ss -tanp (target <= 1.5x)"
    )
    for proc, pipe in workers:
        pipe.send("done")
        proc.join(10)


def _ms(values: list[float]) -> str:
    return " ".join(f"{v * 1000:.0f}" for v in values)


if __name__ == "__main__":
    main()
