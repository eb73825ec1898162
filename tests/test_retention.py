"""The exporter's journals stay bounded: failures kept for keep_days, the latest ok run
per target, at most keep_sessions and keep_mb in all; nobody else's session is touched."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from probes.core.events import RunFinished
from probes.core.model import Diagnosis, Finding, Severity
from probes.core.target import parse_target
from probes.record import retention, summary_cache
from probes.record.exporter_config import ExporterConfigError, parse_exporter_config
from probes.record.journal import Journal, sessions_dir
from probes.record.retention import (
    DAY_S,
    MIB,
    ORIGIN,
    ExporterJournal,
    JournalIndex,
    PruneReport,
    Retention,
    prune,
    to_remove,
)
from probes.record.session import list_sessions
from tests.exporter_lab import Targets, exporter_toml, get, http_request, loopback_targets
from tui.exporter import pruning
from tui.exporter.pruning import Pruner
from tui.exporter.server import Exporter, start

NOW = 1_800_000_000.0
FACTS = {"host": "box", "user": "op", "privileged": False}
REFUSED = Diagnosis(
    (Finding("tcp.refused", Severity.ERROR, "nothing listens on 127.0.0.1:1"),), "tcp.refused"
)
HEALTHY = Diagnosis((Finding("tcp.open", Severity.OK, "127.0.0.1:80 is open"),), "ok")


class Ticks:
    """A clock that moves only when told to."""

    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


def _entry(
    name: str, age_s: float, verdict: str, key: str = "a", size: int = 1000
) -> ExporterJournal:
    return ExporterJournal(Path(f"/s/{name}-exporter.jsonl"), NOW - age_s, key, verdict, size)


def _count(directory: Path, tail: str = ".jsonl") -> int:
    """Journals in *directory* (not the sessions listing's summary cache beside them)."""
    return sum(1 for p in directory.iterdir() if p.name.endswith(tail))


def _by_name(journal: ExporterJournal) -> str:
    return journal.path.name


def _names(journals: list[ExporterJournal]) -> list[str]:
    return [j.path.name.removesuffix("-exporter.jsonl") for j in journals]


def test_failures_stay_their_window_and_only_the_latest_ok_run_per_target() -> None:
    journals = [
        _entry("fail-new", 3600, "tcp.refused"),
        _entry("fail-old", 8 * DAY_S, "tcp.refused"),
        _entry("ok-a-new", 60, "ok", key="a"),
        _entry("ok-a-old", 120, "ok", key="a"),
        _entry("ok-a-ancient", 30 * DAY_S, "ok", key="a"),
        _entry("ok-b-ancient", 30 * DAY_S, "ok", key="b"),  # b's only ok run: its baseline
    ]
    gone = to_remove(journals, Retention(keep_days=7, keep_ok=1), NOW)
    assert _names(gone) == ["ok-a-ancient", "fail-old", "ok-a-old"]  # oldest first
    keep_two = to_remove(journals, Retention(keep_days=7, keep_ok=2), NOW)
    assert _names(keep_two) == ["ok-a-ancient", "fail-old"]


def test_count_and_bytes_bound_everything_the_oldest_first() -> None:
    """Twenty targets failing once each (every run a change): the newest fit."""
    journals = [
        _entry(f"f{i:02d}", i * 60, "tcp.refused", key=f"t{i}", size=MIB // 4) for i in range(20)
    ]
    by_count = to_remove(journals, Retention(keep_sessions=5, keep_mb=1000), NOW)
    assert sorted(_names(by_count)) == [f"f{i:02d}" for i in range(5, 20)]
    by_bytes = to_remove(journals, Retention(keep_sessions=100, keep_mb=1), NOW)
    assert sorted(_names(by_bytes)) == [f"f{i:02d}" for i in range(4, 20)]  # 4 x 1/4 MiB


def test_an_outage_longer_than_the_bounds_keeps_how_it_began() -> None:
    """A target fine, then refused for 100 scrapes, then timing out for 50, keep_sessions
    10: the bound takes repeats first, so the run where each verdict began stays."""
    verdicts = ["ok"] * 5 + ["tcp.refused"] * 100 + ["tcp.filtered"] * 50
    journals = [_entry(f"r{i:03d}", (len(verdicts) - i) * 15, v) for i, v in enumerate(verdicts)]
    gone = {j.path for j in to_remove(journals, Retention(keep_sessions=10), NOW)}
    left = _names([j for j in journals if j.path not in gone])
    assert left == ["r004", "r005", "r105", *(f"r{i}" for i in range(148, 155))]


def _journal(
    directory: Path, started: float, diagnosis: Diagnosis | None, origin: str = ORIGIN, **kw: str
) -> Journal:
    clock = Ticks(started)
    journal = Journal.create(
        parse_target(kw.get("target", "127.0.0.1:1")),
        "auto",
        directory=directory,
        clock=clock,
        facts=dict(FACTS),
        origin=origin,
        session_id=kw.get("session_id"),
    )
    if diagnosis is not None:
        journal.emit(RunFinished(diagnosis, 0.1))
    return journal


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    directory = sessions_dir()
    yield directory


def test_prune_keeps_what_it_must_and_removes_the_rest(state: Path) -> None:
    failures = {age: _journal(state, NOW - age * 3600, REFUSED) for age in (1, 2, 200, 300)}
    oks = {age: _journal(state, NOW - age * 60, HEALTHY) for age in range(1, 101)}
    cut = _journal(state, NOW - 400 * 3600, None)  # interrupted long ago: a failure, too old
    for journal in (*failures.values(), *oks.values(), cut):
        journal.close(clean=journal is not cut)
    # A person's sessions, old and ok, and one named like the exporter's whose header
    # does not say so: never the exporter's to remove.
    person = _journal(state, NOW - 90 * DAY_S, HEALTHY, origin="")
    person.close()
    forged = _journal(state, NOW - 90 * DAY_S, HEALTHY, origin="", session_id="x-exporter")
    forged.close()
    # Due to go, but another netmedic still writes it (it holds the journal's lock).
    writing = _journal(state, NOW - 500 * 3600, REFUSED)

    glanced = sorted(JournalIndex().scan(state), key=_by_name)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(retention, "GLANCE_MAX_BYTES", 0)  # every journal read in full
        assert sorted(JournalIndex().scan(state), key=_by_name) == glanced
    assert sum(j.verdict == "ok" for j in glanced) == 100 and len(glanced) == 106

    index = JournalIndex()
    report = prune(state, Retention(keep_days=7, keep_ok=1), NOW, index)
    left = {p.name for p in state.iterdir()}
    expected = {
        failures[1].path.name,
        failures[2].path.name,
        oks[1].path.name,
        person.path.name,
        forged.path.name,
        writing.path.name,
    }
    assert left == expected
    assert report.removed == 2 + 99 + 1 and report.busy == 1 and report.kept == 4
    assert report.kept_bytes == sum(
        os.path.getsize(state / n) for n in expected - {person.path.name, forged.path.name}
    )
    writing.close()
    again = prune(state, Retention(keep_days=7, keep_ok=1), NOW, index)
    assert again.removed == 1 and writing.path.name not in {p.name for p in state.iterdir()}
    listed = {s.id: s.origin for s in list_sessions(state)}
    assert listed[person.session_id] == "" and listed[oks[1].session_id] == ORIGIN
    assert oks[1].session_id.endswith("-exporter")


async def test_a_pass_at_most_once_a_period_off_the_loop(state: Path) -> None:
    for minute in range(30):
        _journal(state, NOW - minute * 60, HEALTHY).close()
    clock = Ticks(0.0)
    pruner = Pruner(Retention(keep_ok=1), state, every_s=60, clock=clock, wall=lambda: NOW)
    pruner.kick()
    pruner.kick()  # one is under way
    await pruner.settled()
    assert pruner.passes == 1 and pruner.removed == 29
    _journal(state, NOW, HEALTHY).close()
    clock.advance(59)
    pruner.kick()  # too soon
    await pruner.settled()
    assert pruner.passes == 1 and _count(state) == 2
    clock.advance(1)
    pruner.kick()
    await pruner.settled()
    assert pruner.passes == 2 and pruner.removed == 30 and _count(state) == 1


async def test_a_pass_leaves_the_kept_journals_summarized_for_sessions(
    state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a pass the kept journals' summaries wait in the listing's cache: the first
    `netmedic sessions` after a day of scrapes does not parse thousands of journals."""
    monkeypatch.setattr(summary_cache, "SETTLED_NS", 0)  # just written counts as settled
    for minute in range(5):
        _journal(state, NOW - minute * 60, REFUSED).close()
    pruner = Pruner(Retention(keep_ok=1), state, every_s=60, clock=Ticks(0.0), wall=lambda: NOW)
    pruner.kick()
    await pruner.settled()
    assert _summarized(state) == (5, 5)


def _summarized(directory: Path) -> tuple[int, int]:
    """(journals in *directory*, those whose summary the listing's cache holds)."""
    kept = [p for p in directory.iterdir() if p.name.endswith(".jsonl")]
    cache = summary_cache.SummaryCache.load(directory, listed_at_ns=time.time_ns())
    return len(kept), sum(cache.lookup(p.name, p.stat()) is not None for p in kept)


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ("keep_ok = 1.5", "keep_ok must be a whole number"),
        ("keep_days = 0", "keep_days must be between"),
        ("keep_sessions = 0", "keep_sessions must be between"),
        ("keep_mb = 'lots'", "keep_mb must be a number"),
        ("keep_bytes = 10", "unknown key 'keep_bytes'"),
    ],
)
def test_retention_settings_are_typed(line: str, says: str) -> None:
    with pytest.raises(ExporterConfigError) as caught:
        parse_exporter_config(f"[exporter]\n{line}\n", "exporter.toml", {})
    assert says in str(caught.value) and "\n" not in str(caught.value)


def test_retention_settings_are_read() -> None:
    toml = "[exporter]\nkeep_days = 2.5\nkeep_ok = 3\nkeep_sessions = 100\nkeep_mb = 64\n"
    config = parse_exporter_config(toml, "exporter.toml", {})
    assert config.retention == Retention(keep_days=2.5, keep_ok=3, keep_sessions=100, keep_mb=64)
    assert parse_exporter_config("", "exporter.toml", {}).retention == Retention()


@pytest.fixture(scope="module")
def targets(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Targets]:
    with loopback_targets(Path(tmp_path_factory.mktemp("pki"))) as found:
        yield found


async def test_a_real_exporter_with_a_low_keep_count_stays_bounded(
    state: Path, targets: Targets
) -> None:
    """Healthy and refused scrapes through the HTTP interface, keep_sessions = 3: after
    every scrape's pass at most 3 exporter journals are left, the newest the rules
    keep (one healthy run, the latest failures); a person's session is untouched."""
    person = _journal(state, NOW - 90 * DAY_S, HEALTHY, origin="")
    person.close()
    settings = {"keep_sessions": 3, "keep_ok": 1, "max_rate": 1000}
    config = parse_exporter_config(
        exporter_toml(targets.ca_file, exporter=settings), "exporter.toml", {}
    )
    exporter = Exporter(config, env={})
    exporter.pruner.every_s = 0.0  # a pass after every scrape
    server = await start(exporter, "127.0.0.1", 0)
    port = int(server.sockets[0].getsockname()[1])
    order = [targets.healthy] * 4 + [targets.refused] * 3 + [targets.healthy]
    counts = []
    try:
        for target in order:
            reply = await http_request(port, get(f"/probe?target={target}&module=http"))
            assert reply.status == 200
            await exporter.pruner.settled()
            counts.append(_count(state, "-exporter.jsonl"))
        own = await http_request(port, get("/metrics"))
    finally:
        server.close()
        await server.wait_closed()
    assert counts == [1, 1, 1, 1, 2, 3, 3, 3]
    left = [s for s in list_sessions(state) if s.origin == ORIGIN]
    assert sorted((s.target, s.verdict) for s in left) == sorted(
        [
            (targets.refused, "local.not_listening"),
            (targets.refused, "local.not_listening"),
            (targets.healthy, "ok"),
        ]
    )
    assert person.path.exists()
    assert exporter.pruner.removed == len(order) - 3
    assert f"netmedic_exporter_journals_pruned_total {len(order) - 3}" in own.text
    assert "netmedic_exporter_journals 3" in own.text


def test_no_pass_runs_on_the_event_loop_thread(
    state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pass reads and unlinks files: it runs on a worker thread."""
    seen: list[str] = []

    def spy(*args: Any) -> PruneReport:
        seen.append(threading.current_thread().name)
        return prune(*args)

    async def one_pass() -> None:
        pruner = Pruner(Retention(), state)
        pruner.kick()
        await pruner.settled()

    monkeypatch.setattr(pruning, "prune", spy)
    asyncio.run(one_pass())
    assert seen and seen[0] != threading.current_thread().name


async def test_an_unusable_state_dir_is_one_warning_and_the_exporter_goes_on(
    state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _journal(state, NOW - 30 * DAY_S, REFUSED).close()
    os.chmod(state, 0o777)  # anyone could plant or swap journals: refuse to touch them
    try:
        pruner = Pruner(Retention(), state, every_s=0.0, wall=lambda: NOW)
        for _ in range(2):
            pruner.kick()
            await pruner.settled()
    finally:
        os.chmod(state, 0o700)
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot prune old journals" in err and "writable" in err
    assert pruner.passes == 0 and _count(state) == 1
