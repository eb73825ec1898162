"""End to end: the real ``netmedic`` in tmux at 80x24 against a loopback port.

Refused first; then a listener starts on the port, the person presses the
retest key, and the verdict turns ok.  Quitting leaves no process behind.
"""

from __future__ import annotations

import shutil
import socket
from pathlib import Path

import pytest

from probes.record.session import load_session
from tests.probe_helpers import closed_port
from tests.tui.tmux import Tmux, tmux, wait_exit, wait_journal

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
__all__ = ["tmux"]  # the fixture


def test_refused_then_listener_then_green_retest(tmux: Tmux, tmp_path: Path) -> None:
    port = closed_port()
    pid = tmux.start_netmedic(tmp_path, f"127.0.0.1:{port}", "--symptom", "refused")
    # The target is this host, so the listener table explains the refusal.
    screen = tmux.wait_for("local.not_listening", timeout=40)
    assert f"127.0.0.1:{port}" in screen
    tmux.wait_gone("still probing", timeout=40)

    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", port))
        listener.listen(8)
        tmux.keys("r")
        # The banner turns green before the slower probes end: wait for the run.
        wait_journal(tmp_path, lambda s: len(s.runs) == 2 and s.runs[1].finished, 60)
        screen = tmux.wait_for("✔ ok: no problem found", timeout=10)
        assert "run 2" in screen

    tmux.keys("C-q")
    wait_exit(pid)
    saved = load_session(None, tmp_path / "netmedic" / "sessions")
    assert saved.ended and [r.verdict for r in saved.runs][-1] == "ok"
