"""Benchmark: listing saved sessions (``netmedic sessions``) at scale (prints figures; not a test).

    python -m tests.bench.bench_sessions [N,N,...] [--dir PATH]

Builds journals in a temporary XDG_STATE_HOME (on /dev/shm unless ``--dir``: every
journal event is fsynced, which tmpfs makes free; the listing reads the page cache
either way) and removes it at the end.  Every journal is written by the journal
writer (:class:`probes.record.journal.Journal`) from the events of one real check
of a closed loopback port, recorded once and replayed with a moving clock:

- 8 in 10 as the exporter journals a scrape (``origin`` exporter, one bounded run);
- 1 in 10 a person's session with a retest and a note;
- 1 in 10 a check killed half-way (no ``finished``: incomplete);
- 1 in 100 (instead of an exporter one) a live ``watch`` of 120 one-second ping
  rounds, dropped after its verdict.

For each N (default 100, 1000, 5000) it times, in this process:

- before: every journal read in full with every record walked by ``clean_tree``
  (what listing did before the summary cache and the parse's clean-line shortcut);
- full parse: every journal read in full now (:func:`summarize`);
- cold: ``list_sessions`` with no summary cache (it parses all and writes the cache);
- warm: ``list_sessions`` again (nothing changed);
- after appends: 1% of the journals got an event since (those are parsed again);

and ``netmedic sessions`` as a command (a new Python process, warm cache, output to
a pipe): what a person waits for.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

N_DEFAULT = (100, 1000, 5000)
LIVE_ROUNDS = 120


def main() -> None:
    args = sys.argv[1:]
    where = "/dev/shm" if os.path.isdir("/dev/shm") else None
    if "--dir" in args:
        at = args.index("--dir")
        where = args[at + 1]
        del args[at : at + 2]
    counts = tuple(int(n) for n in args[0].split(",")) if args else N_DEFAULT
    state = Path(tempfile.mkdtemp(prefix="netmedic-bench-sessions-", dir=where))
    os.environ["XDG_STATE_HOME"] = str(state)
    try:
        run(sorted(counts), state)
    finally:
        shutil.rmtree(state, ignore_errors=True)


def record_check() -> tuple[Any, tuple[str, ...], list[object]]:
    """The events of one real check (a closed loopback port), as the journal gets them."""
    from probes.core.context import ProbeConfig
    from probes.core.target import parse_target
    from probes.run.runner import Run, run_to_end
    from tests.probe_helpers import closed_port

    target = parse_target(f"127.0.0.1:{closed_port()}")
    run = Run(target, "auto", ProbeConfig(timeout=2))
    events: list[object] = []
    run.on_event = events.append
    asyncio.run(run_to_end(run, settle=True))
    return target, run.probe_names, events


def live_events(rounds: int) -> list[object]:
    """A live watch of a closed port: ping rounds journaled as checkpoints, the
    verdict raised, then the process dropped (no ``finished``)."""
    from probes.core.events import DiagnosisUpdate, ProbeUpdate
    from probes.core.model import Diagnosis, Finding, ProbeResult, Severity, Status
    from probes.path.pathstats import window_stats
    from probes.path.ping import PingData, PingHost, PingSample

    refused = Finding("tcp.refused", Severity.ERROR, "nothing listens on 127.0.0.1", ("RST",))
    events: list[object] = [
        ProbeUpdate(ProbeResult("tcp", Status.FAILED, 0.001, "refused")),
        DiagnosisUpdate(Diagnosis((refused,), "tcp.refused")),
    ]
    outcomes: list[float | None] = []
    for i in range(rounds):
        outcomes = [*outcomes[-59:], 0.00004 + i * 1e-7]
        samples = tuple(PingSample(k, "reply", r) for k, r in enumerate(outcomes))
        host = PingHost("127.0.0.1", 4, "raw-icmp", window_stats(outcomes), samples)
        data = PingData("raw-icmp", True, "", 1.0, 84, (host,), len(outcomes))
        result = ProbeResult("ping", Status.OK, 1.0, "", data, final=False)
        events.append(ProbeUpdate(result, checkpoint=True))
    return events


def build(directory: Path, start: int, stop: int, recorded: Any) -> None:
    from probes.core.events import NoteAdded, RetestStarted
    from probes.record.journal import Journal
    from tests.data.make_session import FACTS

    target, plan, events = recorded
    live = live_events(LIVE_ROUNDS)
    t0 = time.time() - 86400.0 * 30
    for i in range(start, stop):
        now = [t0 + i * 15.0]

        def clock(now: list[float] = now) -> float:
            now[0] += 0.01
            return now[0]

        kind = ("person", "killed") [i % 10] if i % 10 < 2 else "exporter"  # fmt: skip
        if kind == "exporter" and i % 100 == 2:
            kind = "live"
        origin = "exporter" if kind == "exporter" else ""
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(now[0]))
        sid = f"{stamp}-{i:06x}" + (f"-{origin}" if origin else "")
        journal = Journal.create(
            target,
            "auto",
            plan=("ping",) if kind == "live" else plan,
            directory=directory,
            clock=clock,
            facts=FACTS,
            session_id=sid,
            origin=origin,
        )
        if kind == "live":
            for event in live:
                journal.emit(event)
            journal.close(clean=False)
            continue
        for event in events[: len(events) // 2] if kind == "killed" else events:
            journal.emit(event)
        if kind == "person":
            journal.emit(RetestStarted(2))
            for event in events:
                journal.emit(event)
            journal.emit(NoteAdded("", "restarted the service"))
        journal.close(clean=kind != "killed")


def timed(fn: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    value = fn()
    return time.perf_counter() - started, value


def run(counts: list[int], state: Path) -> None:
    from probes.record.journal import sessions_dir
    from probes.record.session import _journals, list_sessions, summarize
    from probes.record.summary_cache import CACHE_NAME, SETTLED_NS

    directory = sessions_dir()
    recorded = record_check()
    print(
        f"one real check recorded: {len(recorded[2])} events; journals in {state}\n"
        f"(a journal written in the last {SETTLED_NS / 1e9:g} s is never taken from the "
        "cache: the figures are taken after that)\n"
    )
    header = (
        f"{'N':>6} {'MiB':>6} {'before':>8} {'full parse':>11} {'cold':>8} {'warm':>8} "
        f"{'+1% appended':>13} {'command':>8}"
    )
    print(header)
    built = 0
    for count in counts:
        build(directory, built, count, recorded)
        built = count
        (directory / CACHE_NAME).unlink(missing_ok=True)
        time.sleep(SETTLED_NS / 1e9 + 0.1)
        size = sum(p.stat().st_size for p in directory.iterdir()) / 2**20
        with walking_every_record():
            before_s, before = timed(lambda: [summarize(p) for p in _journals(directory)])
        full_s, full = timed(lambda: [summarize(p) for p in _journals(directory)])
        cold_s, cold = timed(lambda: list_sessions(directory))
        warm_s, warm = timed(lambda: list_sessions(directory))
        assert before == full == cold == warm, "every way must list the same summaries"
        journals = list(_journals(directory))
        for path in journals[:: max(1, len(journals) // max(1, count // 100))][: count // 100]:
            with path.open("ab") as fh:
                fh.write(b'{"type":"note","seq":999,"t":1.0,"finding_id":"","text":"later"}\n')
        time.sleep(SETTLED_NS / 1e9 + 0.1)
        appended_s, _ = timed(lambda: list_sessions(directory))
        command_s = command_time()
        print(
            f"{count:>6,} {size:>6.1f} {before_s:>6.3f} s {full_s:>9.3f} s {cold_s:>6.3f} s {warm_s:>6.3f} s "
            f"{appended_s:>11.3f} s {command_s:>6.3f} s"
        )


@contextlib.contextmanager
def walking_every_record() -> Iterator[None]:
    """The journal reader as it was: every record walked by clean_tree."""
    from probes.core.sanitize import clean_tree
    from probes.record import session

    shortcut = session._cleaned
    session._cleaned = lambda record, line: clean_tree(record)
    try:
        yield
    finally:
        session._cleaned = shortcut


def command_time() -> float:
    """``netmedic sessions`` in a new process (median of 3), its output to a pipe."""
    times = []
    for _ in range(3):
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "tui.cli", "sessions"],
            check=True,
            stdout=subprocess.PIPE,
            cwd=Path(__file__).resolve().parents[2],
        )
        times.append(time.perf_counter() - started)
    return sorted(times)[1]


if __name__ == "__main__":
    main()
