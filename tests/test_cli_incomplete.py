"""A run cut off by SIGKILL is *incomplete* in every output, never ``ok``.

The issue's reproduction, for real: a server on loopback accepts and never
answers, ``netmedic check URL --symptom slow --json`` runs in a subprocess and
is SIGKILLed once its journal shows the first probe answered (the HTTP probe is
still waiting).  Then ``sessions`` and every report format read it back.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from probes.core.events import NoteAdded, RetestStarted, StepMarked, StepState
from probes.core.model import Diagnosis, Finding, ProbeResult, Severity, Status
from probes.core.target import parse_target
from probes.record.journal import Journal
from probes.record.session import JournalError, Session, list_sessions, load_session
from probes.run.runner import DiagnosisUpdate, ProbeUpdate, RunFinished
from tests.data.make_session import FACTS
from tui.cli import main
from tui.report import render


@pytest.fixture
def silent_server() -> Iterator[int]:
    """Listens (the kernel completes the handshake) and never says a word."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield int(listener.getsockname()[1])


def _wait_for(predicate: object, what: str, timeout: float = 60.0) -> Session:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            session = load_session(None)
        except JournalError:
            session = None
        if session is not None and predicate(session):  # type: ignore[operator]
            return session
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_sigkill_mid_check_is_incomplete_everywhere(
    silent_server: int,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path)}
    url = f"http://127.0.0.1:{silent_server}/"
    proc = subprocess.Popen(
        [sys.executable, "-m", "tui.cli", "check", url, "--symptom", "slow", "--json"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for(
            lambda s: s.latest is not None and s.latest.probes_finished >= 1,
            "a first probe result in the journal",
        )
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)

    saved = load_session(None)
    assert saved.latest is not None and not saved.latest.finished
    assert "http" in saved.plan and saved.latest.results.get("http", {}).get("final") is not True
    assert saved.verdict == "incomplete" and not saved.complete
    done, planned = saved.latest.probes_finished, saved.latest.probes_planned
    told = f"incomplete ({done} of {planned} probes finished)"
    assert saved.verdict_text == told and done < planned

    (summary,) = list_sessions()
    assert summary.verdict == "incomplete"
    assert main(["sessions"]) == 0
    out, _ = capsys.readouterr()
    row = out.splitlines()[1]
    assert told in row and "interrupted" in row and " ok " not in row

    md = render(saved, "md")
    assert f"**Verdict: {told}**" in md
    assert "Verdict: ok" not in md and "every probe passed" not in md
    html = render(saved, "html")
    assert f"Verdict: {told}" in html and "every probe passed" not in html
    doc = json.loads(render(saved, "json"))
    assert doc["verdict"]["id"] == "incomplete" and doc["verdict"]["text"] == told
    assert doc["verdict"]["complete"] is False
    assert doc["runs"][0]["complete"] is False and doc["runs"][0]["verdict"] == "incomplete"
    assert all(f["partial"] for f in doc["findings"])
    assert doc["before_after"] is None

    assert main(["report", "latest", "--format", "md"]) == 0
    out, _ = capsys.readouterr()
    assert f"**Verdict: {told}**" in out


def _timeout_finding() -> Finding:
    return Finding(
        "http.timeout",
        Severity.ERROR,
        "connected, but no response within the deadline",
        ("no byte after 5 s",),
    )


def cut_retest_journal(directory: Path) -> Path:
    """Run 1 finished with http.timeout, a step and a note; the retest (run 2) is cut
    off after a partial diagnosis that says "ok" so far (the link dropped)."""
    target = parse_target("http://127.0.0.1:8080/")
    journal = Journal.create(
        target, "slow", plan=("dns", "tcp", "http"), directory=directory, facts=FACTS
    )
    for probe in ("dns", "tcp"):
        journal.emit(ProbeUpdate(ProbeResult(probe, Status.OK, 0.01, f"{probe} fine")))
    journal.emit(ProbeUpdate(ProbeResult("http", Status.FAILED, 5.0, "no response in 5 s")))
    journal.emit(RunFinished(Diagnosis((_timeout_finding(),), "http.timeout"), 5.1))
    journal.emit(StepMarked("http.timeout", 0, StepState.DONE))
    journal.emit(NoteAdded("http.timeout", "restarted the app server"))
    journal.emit(RetestStarted(2))
    journal.emit(ProbeUpdate(ProbeResult("dns", Status.OK, 0.01, "dns fine")))
    journal.emit(ProbeUpdate(ProbeResult("http", Status.OK, 1.0, "waiting", final=False)))
    journal.emit(DiagnosisUpdate(Diagnosis((), "ok")))
    journal.close(clean=False)
    return journal.path


def test_a_retest_cut_short_resolves_nothing(tmp_path: Path) -> None:
    from probes.record.session import read_journal

    saved = read_journal(cut_retest_journal(tmp_path))
    assert saved.verdict_text == "incomplete (1 of 3 probes finished)"
    assert [c.after for c in saved.verdict_changes] == ["http.timeout", "incomplete"]
    md = render(saved, "md")
    assert "**Verdict: incomplete (1 of 3 probes finished)**" in md
    assert "Resolved: " not in md and "Before and after" not in md
    assert "Findings of run 1 (the last run that finished)" in md
    assert "restarted the app server" in md
    doc = json.loads(render(saved, "json"))
    assert doc["before_after"] is None
    assert [f["id"] for f in doc["findings"]] == ["http.timeout"]
    assert doc["findings_from"] == {"run": 1, "complete": True}
    kinds = [item["kind"] for item in doc["timeline"]]
    assert "incomplete" in kinds
