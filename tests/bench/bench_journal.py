"""Journal benchmark: what writing every event costs, and who pays for it.

    python -m tests.bench.bench_journal [EVENTS]

Events are live ping snapshots (the most frequent event: a few a second per
path probe), taken from the fake engine.  Three ways to put them on disk, in a
temporary directory on the same file system as the session journals:

* reference: ``os.write`` + ``fsync`` of the same lines, already serialised
  (the floor any durable per-event journal pays);
* ``Journal.emit`` on the caller's thread (serialise, redact, write, fsync), as
  ``netmedic check`` does;
* ``JournalWriter.emit``, as the TUI does: the caller only queues, a thread
  writes — the figure that matters is how long the event loop is held.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from probes.core.context import ProbeContext
from probes.core.model import ProbeResult, to_jsonable
from probes.core.redact import Redactor
from probes.core.target import parse_target
from probes.record.journal import Journal
from probes.record.journal_writer import JournalWriter
from probes.run.runner import ProbeUpdate
from tests.fake_engine import FakeNetwork

TARGET = parse_target("db.internal:5432")
T = TypeVar("T")
FACTS = {"host": "bench", "user": "bench", "privileged": False}


async def _snapshots(count: int) -> list[ProbeResult]:
    net = FakeNetwork(live_rounds=30)
    out: list[ProbeResult] = []
    while len(out) < count:
        out += [r async for r in net.ping(ProbeContext(TARGET))]
    return out[:count]


def _summary(label: str, samples_s: list[float], total_s: float, count: int) -> str:
    us = sorted(s * 1e6 for s in samples_s)
    p99 = us[min(len(us) - 1, int(len(us) * 0.99))]
    return (
        f"{label:<34} caller median {statistics.median(us):8.1f} µs  p99 {p99:8.1f} µs  "
        f"max {us[-1]:8.1f} µs   {count / total_s:8.0f} events/s on disk"
    )


def _timed(emit: Callable[[T], object], items: list[T]) -> list[float]:
    """How long each call held the caller."""
    samples = []
    for item in items:
        t = time.perf_counter()
        emit(item)
        samples.append(time.perf_counter() - t)
    return samples


def reference(directory: Path, lines: list[bytes]) -> tuple[list[float], float]:
    fd = os.open(directory / "reference.jsonl", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)

    def write(line: bytes) -> None:
        os.write(fd, line)
        os.fsync(fd)

    start = time.perf_counter()
    samples = _timed(write, lines)
    total = time.perf_counter() - start
    os.close(fd)
    return samples, total


def synchronous(directory: Path, events: list[ProbeUpdate]) -> tuple[list[float], float]:
    journal = Journal.create(TARGET, "refused", directory=directory / "sync", facts=FACTS)
    start = time.perf_counter()
    samples = _timed(journal.emit, events)
    total = time.perf_counter() - start
    journal.close()
    return samples, total


def threaded(directory: Path, events: list[ProbeUpdate]) -> tuple[list[float], float]:
    writer = JournalWriter(
        lambda: Journal.create(TARGET, "refused", directory=directory / "thread", facts=FACTS)
    )
    writer.flush()  # opened
    start = time.perf_counter()
    samples = _timed(writer.emit, events)
    writer.flush()
    total = time.perf_counter() - start
    writer.close()
    return samples, total


def main() -> int:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    results = asyncio.run(_snapshots(count))
    events = [ProbeUpdate(r) for r in results]
    redactor = Redactor()
    lines = [
        (json.dumps(redactor.json({"type": "probe", "result": to_jsonable(r)})) + "\n").encode()
        for r in results
    ]
    with tempfile.TemporaryDirectory(dir=Path.home()) as tmp:
        directory = Path(tmp)
        print(f"{count} ping snapshots, {statistics.mean(map(len, lines)):.0f} bytes each")
        ref = reference(directory, lines)
        sync = synchronous(directory, events)
        thread = threaded(directory, events)
        print(_summary("reference write+fsync", *ref, count))
        print(_summary("Journal.emit (check)", *sync, count))
        print(_summary("JournalWriter.emit (TUI)", *thread, count))
        print(
            f"journal throughput {ref[1] / sync[1]:.2f}x the reference; the TUI's event loop "
            f"is held {statistics.median(thread[0]) / statistics.median(sync[0]) * 100:.2f}% "
            "as long per event as writing it in place"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
