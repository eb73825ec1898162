"""End to end at 80x24: paste a multi-line traceback into the real ``netmedic`` in
tmux (bracketed paste, as a terminal sends it), confirm symptom and target, and
land on the diagnosis of a real loopback port with the error tied to the verdict."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from probes.record.session import load_session
from tests.probe_helpers import closed_port
from tests.tui.tmux import Tmux, tmux, wait_exit, wait_journal

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
__all__ = ["tmux"]  # the fixture


def test_paste_traceback_then_diagnosis_at_80x24(tmux: Tmux, tmp_path: Path) -> None:
    port = closed_port()
    traceback = (
        "Traceback (most recent call last):\n"
        '  File "/srv/app/search.py", line 41, in query\n'
        "    resp = requests.get(url, params={'api_key': 'TmuxCanary991'})\n"
        f"requests.exceptions.ConnectionError: HTTPConnectionPool(host='127.0.0.1', port={port}): "
        "Max retries exceeded with url: /collections (Caused by NewConnectionError('<urllib3."
        "connection.HTTPConnection object at 0x7f2b>: Failed to establish a new connection: "
        "[Errno 111] Connection refused'))\n"
    )
    pid = tmux.start_netmedic(tmp_path)
    tmux.wait_for("What goes wrong", timeout=30)
    tmux("set-buffer", "-b", "err", "--", traceback)
    tmux("paste-buffer", "-p", "-b", "err", "-t", "nm")  # bracketed: one Paste event
    screen = tmux.wait_for("your app said:", timeout=10)
    assert "Connection refused" in screen
    assert f"→ target: http://127.0.0.1:{port}/collections" in screen
    assert "TmuxCanary991" not in screen
    tmux.keys("Enter")
    screen = tmux.wait_for("from your error:", timeout=10)
    assert "Connection refused" in screen  # the symptom chosen from the paste
    tmux.keys("Enter")
    screen = tmux.wait_for("netmedic sees:", timeout=20)
    wait_journal(tmp_path, lambda s: bool(s.runs) and s.runs[0].finished, 60)
    screen = tmux.wait_gone("still probing", timeout=30)
    assert "your app said:" in screen and "TmuxCanary991" not in screen
    tmux.keys("C-q")
    wait_exit(pid)
    saved = load_session(None, tmp_path / "netmedic" / "sessions")
    assert saved.symptom == "refused"
    assert saved.target_json["port"] == port
    error = saved.pasted_error
    assert error is not None and "Connection refused" in error.line
    assert "TmuxCanary991" not in saved.path.read_text()
