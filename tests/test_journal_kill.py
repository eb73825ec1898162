"""A dropped SSH link (SIGHUP) or SIGKILL mid-session loses nothing written.

The TUI is built separately; this drives a headless session process
(tests/session_script.py) through the real runner and journal, kills it
while probes still stream, and reads the journal back.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from probes.record.session import read_journal

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("sig", [signal.SIGHUP, signal.SIGKILL, signal.SIGTERM])
def test_killed_session_keeps_every_event(tmp_path: Path, sig: signal.Signals) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.session_script", str(tmp_path)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        start_new_session=True,  # like an SSH session: the signal hits only this process
    )
    assert proc.stdout is not None
    try:
        path = Path(proc.stdout.readline().strip())
        seen = 0
        while seen < 40:  # events confirmed written before the kill
            line = proc.stdout.readline()
            assert line, "the session process ended early"
            seen = int(line)
        proc.send_signal(sig)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
    assert proc.returncode == -sig
    session = read_journal(path)
    assert not session.ended
    assert session.last_seq >= seen
    seqs = [
        int(line.split(b'"seq":', 1)[1].split(b",", 1)[0])
        for line in path.read_bytes().splitlines()[1:]
        if b'"seq":' in line
    ]
    assert seqs[:seen] == list(range(1, seen + 1))
    assert session.latest is not None and "dns" in session.latest.results
    assert session.latest.results["tcp"]["final"] is False
    assert len(session.notes) >= 3 and session.steps
    # What --resume gets: the evidence and the checklist, ready to append a retest.
    journal = session.reopen_journal()
    journal.close()
    assert read_journal(path).resumed == 1


def test_resume_hands_the_session_to_the_tui(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tui.app
    from tests.data.make_session import FIXTURE
    from tui.cli import main

    sessions = tmp_path / "netmedic" / "sessions"
    sessions.mkdir(parents=True)
    (sessions / FIXTURE.name.replace("session", "20261123-100000-abc123")).write_bytes(
        FIXTURE.read_bytes()
    )
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    got: list[Any] = []

    def fake_run_app(target: object, symptom: object, session: object = None) -> int:
        got.extend([target, symptom, session])
        return 0

    monkeypatch.setattr(tui.app, "run_app", fake_run_app)
    assert main(["--resume"]) == 0
    target, symptom, session = got
    assert symptom == "refused" and session is not None
    assert target.host_port == "db.internal:5432"
    assert main(["--resume", "nope"]) == 2


def test_sighup_during_check_keeps_the_journal(tmp_path: Path) -> None:
    """``netmedic check`` against a listener that accepts and stays silent (the TCP
    probe waits for a banner), hung up once the journal holds the first results."""
    import socket
    import time

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    port = listener.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "tui.cli", "check", f"127.0.0.1:{port}", "--json"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT), "XDG_STATE_HOME": str(tmp_path)},
        start_new_session=True,
    )
    sessions = tmp_path / "netmedic" / "sessions"
    try:
        deadline = time.monotonic() + 30
        lines: list[bytes] = []
        while time.monotonic() < deadline:
            journals = list(sessions.glob("*.jsonl")) if sessions.exists() else []
            if journals:
                lines = journals[0].read_bytes().splitlines()
                if any(b'"probe":"route"' in line for line in lines):
                    break
            time.sleep(0.01)
        assert any(b'"probe":"route"' in line for line in lines), "no route result journaled"
        proc.send_signal(signal.SIGHUP)
        out, _err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        listener.close()
    assert proc.returncode == -signal.SIGHUP and out == b""
    (journal,) = sessions.glob("*.jsonl")
    session = read_journal(journal)
    assert not session.ended
    assert session.latest is not None and "route" in session.latest.results
    assert session.last_seq >= len(lines) - 1
