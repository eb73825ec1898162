"""The general guard: one hard bound per run, follow-ups planned once, an exit status
a script can trust, and journals bounded when written and when read."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from probes.core.context import ProbeConfig, ProbeContext
from probes.core.events import DiagnosisUpdate, ProbeUpdate, RunFinished
from probes.core.model import Diagnosis, Finding, ProbeResult, Severity, Status
from probes.core.target import parse_target
from probes.net.tcp import TcpAttempt, TcpData
from probes.record import journal as journal_module
from probes.record import session as session_module
from probes.record.journal import Journal
from probes.record.session import journal_session, list_sessions, read_journal
from probes.run.runner import RUN_MARGIN_S, Run, run_to_end
from tests.reliability.forge import header
from tui.cli import EXIT_INCOMPLETE, check_status, main
from tui.report import render

TARGET = parse_target("redis://127.0.0.1:6379/")


async def _hangs(ctx: ProbeContext) -> AsyncIterator[ProbeResult]:
    await asyncio.sleep(3600)
    yield ProbeResult("never", Status.OK, 0.0, "")


async def _hears_http(ctx: ProbeContext) -> AsyncIterator[ProbeResult]:
    attempt = TcpAttempt("127.0.0.1", 4, 6379, "open", 0.01, protocol="HTTP")
    yield ProbeResult("tcp", Status.OK, 0.01, "open", TcpData(6379, (attempt,)))


async def _skips(ctx: ProbeContext) -> AsyncIterator[ProbeResult]:
    yield ProbeResult("http", Status.SKIPPED, 0.0, "not an HTTP target")


async def test_a_run_ends_at_its_bound_whatever_its_probes_do() -> None:
    run = Run(
        TARGET,
        config=ProbeConfig(timeout=0.5),
        plan=["service"],
        probe_overrides={"service": _hangs},
    )
    started = time.monotonic()
    diagnosis = await run_to_end(run, settle=True)
    elapsed = time.monotonic() - started
    assert run.time_limit_s() == 0.5 + RUN_MARGIN_S
    assert diagnosis.verdict == "incomplete"
    assert run.results["service"].error is not None
    assert run.results["service"].error.errno_name == "DEADLINE"
    assert elapsed < 0.5 + RUN_MARGIN_S + 1.0  # generous: the bound holds, starved or not
    assert check_status(diagnosis) == EXIT_INCOMPLETE == 4


async def test_a_skip_that_asks_for_its_own_probe_again_is_planned_once() -> None:
    """tcp hears HTTP on a redis:// target, http skips, and the skip once asked for
    http again, forever: the follow-up is planned once per probe and reason."""
    run = Run(
        TARGET,
        config=ProbeConfig(timeout=1.0),
        plan=["tcp", "http"],
        follow_evidence=True,
        probe_overrides={"tcp": _hears_http, "http": _skips},
    )
    events = [event async for event in run.events()]
    asked = [step.probe for step in run.follow_ups]
    assert asked.count("http") == 1, asked  # the rerun, and never again
    assert isinstance(events[-1], RunFinished)
    http_updates = [e for e in events if isinstance(e, ProbeUpdate) and e.result.probe == "http"]
    assert len(http_updates) == 2


def test_exit_status_follows_the_verdict() -> None:
    warning = Finding("local.close_wait", Severity.WARNING, "leaks CLOSE_WAIT", (), ())
    unfinished = Finding("probe.incomplete", Severity.WARNING, "http could not finish", (), ())
    error = Finding("tcp.refused", Severity.ERROR, "nothing listens", (), ())
    assert check_status(Diagnosis((), "incomplete")) == 4
    assert check_status(Diagnosis((), "ok")) == 0
    assert check_status(Diagnosis((warning,), "local.close_wait")) == 0
    # A warning outranks the missing evidence, but nothing was verified: not a pass.
    assert check_status(Diagnosis((warning, unfinished), "local.close_wait")) == 4
    assert check_status(Diagnosis((error, unfinished), "tcp.refused")) == 1


def test_one_runs_journal_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(journal_module, "RUN_MAX_BYTES", 40_000)
    monkeypatch.setattr(journal_module, "RUN_MAX_EVENTS", 1_000_000)
    now = [0.0]
    journal = Journal.in_memory(TARGET, "auto", plan=("ping",), clock=lambda: now[0])
    result = ProbeResult("ping", Status.OK, 1.0, "x" * 400)
    journal.emit(ProbeUpdate(result))  # the first result: always
    for _ in range(2_000):  # a checkpoint a minute, for 33 hours
        now[0] += 60.0
        journal.emit(ProbeUpdate(result, checkpoint=True))
    rolled = journal.contents().count(b'"type":"probe"')
    # Past half the budget the checkpoints were rolled: one an hour, not one a minute.
    assert 30 < rolled < 120, rolled
    flapping = Diagnosis((), "x" * 300)
    for _ in range(1_000):  # a finding that comes and goes without end
        journal.emit(DiagnosisUpdate(flapping))
    journal.emit(RunFinished(Diagnosis((), "ok"), 1.0))
    journal.close()
    data = journal.contents()
    assert len(data) < 60_000  # the budget plus the events that always go in
    kinds = [json.loads(line)["type"] for line in data.splitlines()]
    assert kinds[-2:] == ["finished", "end"]
    assert kinds.count("limit") == 1
    session = journal_session(journal)
    assert session.latest is not None and session.latest.finished
    assert session.limited_runs == [1]
    assert "reached the journal's bound" in render(session, "md")


def test_an_oversized_journal_is_read_by_its_head_and_tail(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(session_module, "MAX_JOURNAL_BYTES", 200_000)
    monkeypatch.setattr(session_module, "HEAD_BYTES", 50_000)
    monkeypatch.setattr(session_module, "TAIL_BYTES", 50_000)
    sessions = tmp_path / "state" / "netmedic" / "sessions"
    sessions.mkdir(parents=True)
    for p in (tmp_path / "state", sessions.parent, sessions):
        p.chmod(0o700)
    path = sessions / "20260101-000000-abcdef.jsonl"
    result = {"probe": "tcp", "status": "ok", "summary": "x" * 300, "final": True, "data": {}}
    diagnosis = {"findings": [], "verdict": "ok"}
    with open(path, "w") as fh:
        fh.write(json.dumps(header()) + "\n")
        for seq in range(1, 1_500):
            line = {"type": "probe", "seq": seq, "t": 1767225601.0, "run": 1, "result": result}
            fh.write(json.dumps(line) + "\n")
        end = {"type": "finished", "seq": 1_500, "t": 1767229999.0, "run": 1,
               "duration_s": 5.0, "diagnosis": diagnosis}  # fmt: skip
        fh.write(json.dumps(end) + "\n")
    path.chmod(0o600)
    assert path.stat().st_size > 200_000
    session = read_journal(path)
    assert session.gap_bytes > 0
    assert session.latest is not None and session.latest.finished
    assert session.verdict == "ok" and session.symptom == "refused"
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    (listed,) = list_sessions()
    assert listed.error == "" and listed.verdict == "ok"
    assert main(["report", "latest", "--format", "md"]) == 0
