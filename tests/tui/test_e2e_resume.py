"""The SSH link drops mid-session: nothing the person did is lost.

The real ``netmedic`` runs in tmux (a pty).  After a run, a step is marked
and a note typed; then the process is hung up (``tmux kill-session`` sends
SIGHUP, as sshd does when the link drops), sent SIGTERM, or SIGKILLed.  The journal must
hold every event, and ``netmedic --resume`` must show the evidence, the
checklist and the note again — and retest from there.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
from pathlib import Path

import pytest

from probes.core.events import StepState
from probes.record.session import load_session
from tests.tui.test_e2e_tmux import closed_port
from tests.tui.tmux import Tmux, tmux, wait_exit, wait_journal

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
__all__ = ["tmux"]  # the fixture

NOTE = "restarted pg at 14:02"


def _sessions(state: Path) -> Path:
    return state / "netmedic" / "sessions"


@pytest.mark.parametrize(
    "sig", [signal.SIGHUP, signal.SIGTERM, signal.SIGKILL], ids=["hangup", "term", "kill"]
)
def test_dropped_link_then_resume(tmux: Tmux, tmp_path: Path, sig: signal.Signals) -> None:
    port = closed_port()
    pid = tmux.start_netmedic(tmp_path, f"127.0.0.1:{port}", "--symptom", "refused")
    tmux.wait_for("local.not_listening", timeout=40)
    wait_journal(tmp_path, lambda s: s.latest is not None and s.latest.finished, 60)
    tmux.wait_gone("still probing", timeout=10)
    tmux.keys("space")  # the selected finding's first step: done
    tmux.keys("n")
    tmux.wait_for("Add a note")
    tmux.keys("-l", NOTE)
    tmux.keys("Enter")
    tmux.wait_for("Note added")

    if sig is signal.SIGHUP:
        # What sshd does when the link drops; the app flushes its journal and exits.
        tmux("kill-session", "-t", "nm")
    elif sig is signal.SIGTERM:
        os.kill(pid, signal.SIGTERM)  # flushes too, then restores the terminal
    else:
        # SIGKILL cannot be caught: what was written before it must survive.
        wait_journal(tmp_path, lambda s: bool(s.notes))
        os.kill(pid, signal.SIGKILL)
    wait_exit(pid)

    saved = load_session(None, _sessions(tmp_path))
    assert not saved.ended  # interrupted, not closed
    assert saved.latest is not None and saved.latest.finished
    assert {"dns", "route", "tcp", "local"} <= set(saved.latest.results)
    verdict = saved.verdict
    assert verdict in ("tcp.refused", "local.not_listening")
    assert [n.text for n in saved.notes] == [NOTE]
    assert list(saved.step_states.values()) == [StepState.DONE]
    assert not saved.torn_tail and saved.skipped_lines == 0
    seqs = [json.loads(line)["seq"] for line in saved.path.read_text().splitlines()[1:]]
    assert seqs == list(range(1, len(seqs) + 1))  # no event lost in between

    # Reconnect: resume, see the same evidence, fix the problem, retest.
    pid = tmux.start_netmedic(tmp_path, "--resume", session="back")
    tmux.wait_for("Resumed: press r to retest", timeout=40, session="back")
    for shown in (f"127.0.0.1:{port}", f"✘ {verdict}", NOTE, "[✔] 1."):  # ✔: the marked step
        tmux.wait_for(shown, timeout=5, session="back")
    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", port))
        listener.listen(8)
        tmux.keys("r", session="back")
        # The screen turns green before the slower probes end: wait for the run.
        wait_journal(tmp_path, lambda s: len(s.runs) == 2 and s.runs[1].finished, 60)
        tmux.wait_for("✔ ok: no problem found", timeout=10, session="back")
    tmux.keys("C-q", session="back")
    wait_exit(pid)

    after = load_session(None, _sessions(tmp_path))
    assert after.id == saved.id and after.resumed == 1 and after.ended
    assert [r.number for r in after.runs] == [1, 2]
    assert after.verdict == "ok"
    assert [n.text for n in after.notes] == [NOTE]
