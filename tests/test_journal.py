"""The session journal: write, read back, torn tails, future versions, listing."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from probes.core.events import NoteAdded, RetestStarted, StepMarked, StepState
from probes.core.model import Diagnosis, Finding, NextStep, ProbeResult, Severity, Status
from probes.core.target import parse_target
from probes.record.journal import Journal, JournalError, check_not_in_use, sessions_dir
from probes.record.session import find_session, list_sessions, load_session, read_journal
from probes.run.runner import DiagnosisUpdate, ProbeUpdate, RunFinished
from tests.data.make_session import FACTS, FIXTURE, SESSION_ID

FINDING = Finding(
    "tcp.refused",
    Severity.ERROR,
    "nothing listens",
    ("10.0.0.5 refused",),
    (NextStep("check listeners", "ss -tlnp"), NextStep("start it")),
)


def _journal(directory: Path, sid: str = "20260101-000000-aaaaaa") -> Journal:
    return Journal.create(
        parse_target("db.internal:5432"),
        "refused",
        plan=("dns", "tcp"),
        directory=directory,
        facts=FACTS,
        session_id=sid,
    )


def _fill(journal: Journal) -> None:
    journal.emit(ProbeUpdate(ProbeResult("tcp", Status.FAILED, 0.1, "refused")))
    journal.emit(DiagnosisUpdate(Diagnosis((FINDING,), "tcp.refused")))
    journal.emit(RunFinished(Diagnosis((FINDING,), "tcp.refused"), 0.2))
    journal.emit(StepMarked("tcp.refused", 1, StepState.DONE))
    journal.emit(NoteAdded("", "restarted it"))


def test_round_trip_and_file_modes(tmp_path: Path) -> None:
    directory = tmp_path / "state" / "sessions"
    journal = _journal(directory)
    _fill(journal)
    journal.close()
    assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(journal.path).st_mode) == 0o600
    session = read_journal(journal.path)
    assert session.id == "20260101-000000-aaaaaa"
    assert session.header["user"] == "alice"
    assert session.ended and not session.torn_tail
    assert session.verdict == "tcp.refused"
    assert session.diagnosis().findings[0].next_steps[0].command == "ss -tlnp"
    assert session.step_states == {("tcp.refused", 1): StepState.DONE}
    assert [n.text for n in session.notes] == ["restarted it"]
    assert session.latest is not None
    assert session.latest.probe_results()["tcp"].status is Status.FAILED
    assert session.target().host_port == "db.internal:5432"
    assert session.next_run_number == 2


def test_reopen_appends_a_retest(tmp_path: Path) -> None:
    journal = _journal(tmp_path)
    _fill(journal)
    journal.close(clean=False)
    session = read_journal(journal.path)
    assert not session.ended
    again = session.reopen_journal()
    again.emit(RetestStarted(session.next_run_number))
    again.emit(RunFinished(Diagnosis((), "ok"), 0.1))
    again.close()
    resumed = read_journal(journal.path)
    assert [r.number for r in resumed.runs] == [1, 2]
    assert resumed.verdict == "ok" and resumed.resumed == 1 and resumed.ended
    assert [c.after for c in resumed.verdict_changes] == ["tcp.refused", "ok"]


def test_torn_last_line_is_ignored(tmp_path: Path) -> None:
    journal = _journal(tmp_path)
    _fill(journal)
    journal.close(clean=False)
    with open(journal.path, "ab") as fh:
        fh.write(b'{"type":"note","seq":9,"t":1.0,"finding_id":"","text":"half wr')
    session = read_journal(journal.path)
    assert session.torn_tail
    assert [n.text for n in session.notes] == ["restarted it"]
    # Reopening repairs the tail so new events stay readable.
    again = session.reopen_journal()
    again.emit(NoteAdded("", "after resume"))
    again.close()
    resumed = read_journal(journal.path)
    assert [n.text for n in resumed.notes] == ["restarted it", "after resume"]
    assert resumed.skipped_lines == 1 and not resumed.torn_tail


def test_future_schema_version_is_a_clear_error(tmp_path: Path) -> None:
    lines = FIXTURE.read_text().splitlines()
    header = json.loads(lines[0])
    header["version"] = 99
    path = tmp_path / "future.jsonl"
    path.write_text("\n".join([json.dumps(header), *lines[1:]]) + "\n")
    with pytest.raises(JournalError) as info:
        read_journal(path)
    message = str(info.value)
    assert "newer netmedic" in message and "version 99" in message and "\n" not in message


@pytest.mark.parametrize(
    "content", [b"", b"hello\n", b'{"type":"probe"}\n', b'{"type":"session","schema":"x"}\n']
)
def test_not_a_journal(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "x.jsonl"
    path.write_bytes(content)
    with pytest.raises(JournalError, match="not a netmedic session journal"):
        read_journal(path)


def test_unknown_event_types_are_skipped(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    path.write_bytes(FIXTURE.read_bytes() + b'{"type":"from_the_future","seq":99,"t":1}\n')
    assert read_journal(path).verdict == "ok"


def test_xdg_state_home_and_listing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    assert sessions_dir() == tmp_path / "netmedic" / "sessions"
    first = _journal(sessions_dir(), "20260101-000000-aaaaaa")
    _fill(first)
    first.close()
    second = _journal(sessions_dir(), "20260102-000000-bbbbbb")
    second.close(clean=False)
    (sessions_dir() / "20260103-000000-cccccc.jsonl").write_text("garbage\n")
    listed = list_sessions()
    assert [s.id for s in listed][:2] == ["20260101-000000-aaaaaa", "20260102-000000-bbbbbb"]
    assert listed[0].verdict == "tcp.refused" and listed[0].ended
    assert not listed[1].ended
    assert any(s.error for s in listed)
    assert find_session("20260101").name == "20260101-000000-aaaaaa.jsonl"
    assert find_session(None).name.startswith("20260103")
    with pytest.raises(JournalError, match="matches 3 sessions"):
        find_session("2026")
    with pytest.raises(JournalError, match="no session"):
        find_session("1999")
    assert load_session(str(first.path)).id == first.session_id


def test_emit_never_raises_when_the_disk_fails(tmp_path: Path) -> None:
    journal = _journal(tmp_path)
    os.close(journal._fd)
    journal._fd = os.open(os.devnull, os.O_RDONLY)  # writes now fail with EBADF
    journal.emit(NoteAdded("", "lost"))
    assert journal.error
    journal.close()


def test_fixture_is_reproducible(tmp_path: Path) -> None:
    from tests.data.make_session import build

    assert build(tmp_path).read_bytes() == FIXTURE.read_bytes()
    assert read_journal(FIXTURE).id == SESSION_ID


def test_report_of_a_retest_cut_short_is_incomplete(tmp_path: Path) -> None:
    from tui.report import render

    journal = _journal(tmp_path)
    _fill(journal)
    journal.emit(RetestStarted(2))
    journal.emit(ProbeUpdate(ProbeResult("tcp", Status.OK, 0.1, "attempt 1", final=False)))
    journal.close(clean=False)
    session = read_journal(journal.path)
    assert session.latest is not None and session.latest.number == 2
    assert session.verdict == "incomplete" and not session.complete
    assert session.last_complete is not None and session.last_complete.number == 1
    # The findings shown are the last diagnosis, told as coming from run 1.
    assert session.diagnosis().verdict == "tcp.refused"
    md = render(session, "md")
    assert "**Verdict: incomplete (0 of 2 probes finished)**" in md
    assert "Findings of run 1 (the last run that finished)" in md
    assert "partial: interrupted" in md
    assert "not closed (interrupted or still open)" in md


def test_one_writer_per_session(tmp_path: Path) -> None:
    journal = _journal(tmp_path)
    _fill(journal)
    with pytest.raises(JournalError, match="open in another netmedic"):
        check_not_in_use(journal.path)
    with pytest.raises(JournalError, match="open in another netmedic"):
        read_journal(journal.path).reopen_journal()
    journal.close()
    check_not_in_use(journal.path)  # the lock goes with the writer
    again = read_journal(journal.path).reopen_journal()
    again.emit(NoteAdded("", "second face"))
    again.close()
    session = read_journal(journal.path)
    assert [n.text for n in session.notes] == ["restarted it", "second face"]
    seqs = [json.loads(line).get("seq") for line in journal.path.read_text().splitlines()[1:]]
    assert seqs == list(range(1, len(seqs) + 1))
