"""Benchmark: what pruning the exporter's journals costs (prints figures; not a test).

    python -m tests.bench.bench_retention [N]

N (10,000) copies of a real exporter journal (one journaled check of a refused
loopback port), started a minute apart, half of them ok, in a temporary
XDG_STATE_HOME removed at the end.  Timed, each on its own:

1. the first pass of a fresh exporter (every journal read once) with bounds that keep
   them all;
2. the next pass (nothing changed: the index answers, only the directory is listed);
3. a pass with the defaults (keep_ok 1: every ok run but the latest goes, then
   keep_sessions 5,000 and keep_mb 256);
4. ``netmedic sessions``' listing (list_sessions) of what is left.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    state = Path(tempfile.mkdtemp(prefix="netmedic-bench-retention-"))
    os.environ["XDG_STATE_HOME"] = str(state)
    try:
        run(count)
    finally:
        shutil.rmtree(state, ignore_errors=True)


def run(count: int) -> None:
    from probes.core.context import ProbeConfig
    from probes.core.target import parse_target
    from probes.record.journal import sessions_dir
    from probes.record.retention import JournalIndex, Retention, prune
    from probes.record.session import list_sessions
    from tests.probe_helpers import closed_port
    from tui.exporter.checks import journaled_check

    target = parse_target(f"127.0.0.1:{closed_port()}")
    outcome = asyncio.run(journaled_check(target, "auto", ProbeConfig(timeout=2), 3.0))
    directory = sessions_dir()
    template = (directory / f"{outcome.session_id}.jsonl").read_bytes()
    head, _, rest = template.partition(b"\n")
    header = json.loads(head)
    now = time.time()
    for i in range(count):
        ok = i % 2 == 0
        started = now - (count - i) * 60
        sid = f"{time.strftime('%Y%m%d-%H%M%S', time.gmtime(started))}-{i:06x}-exporter"
        body = rest.replace(b'"verdict":"local.not_listening"', b'"verdict":"ok"') if ok else rest
        line = json.dumps({**header, "id": sid, "t": started}).encode()
        path = directory / f"{sid}.jsonl"
        path.write_bytes(line + b"\n" + body)
        path.chmod(0o600)
    size = sum(p.stat().st_size for p in directory.iterdir())
    print(f"{count:,} exporter journals, {size / 2**20:.1f} MiB ({len(template):,} bytes each)")

    index = JournalIndex()
    everything = Retention(keep_days=3650, keep_ok=count, keep_sessions=10**7, keep_mb=10**6)
    for label in ("first pass (reads every journal)", "next pass (index, nothing new)"):
        started_s = time.perf_counter()
        report = prune(directory, everything, time.time(), index)
        took = time.perf_counter() - started_s
        print(f"{label:<42} {took:7.3f} s  kept {report.kept:,}, removed {report.removed:,}")
    started_s = time.perf_counter()
    report = prune(directory, Retention(), time.time(), index)
    took = time.perf_counter() - started_s
    print(
        f"{'pass with the defaults':<42} {took:7.3f} s  kept {report.kept:,} "
        f"({report.kept_bytes / 2**20:.1f} MiB), removed {report.removed:,}"
    )
    started_s = time.perf_counter()
    listed = list_sessions(directory)
    took = time.perf_counter() - started_s
    print(f"{'netmedic sessions listing':<42} {took:7.3f} s  {len(listed):,} sessions")


if __name__ == "__main__":
    main()
