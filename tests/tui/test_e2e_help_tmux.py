"""End to end at 80x24 (issue 26): ``?`` opens the full-screen help with the app's
own keys on its first page, ctrl+c quits from there, and the session is saved
(the same "session ... saved" line as q)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from probes.record.session import load_session
from tests.probe_helpers import closed_port
from tests.tui.tmux import Tmux, tmux

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
__all__ = ["tmux"]  # the fixture

# The pane outlives netmedic, so what it printed on the way out can be read.
KEEP_PANE = ("sh", "-c", '"$@"; echo "EXITED $?"; sleep 60', "sh")


def test_question_mark_help_then_ctrl_c_saves_the_session(tmux: Tmux, tmp_path: Path) -> None:
    port = closed_port()
    config = tmp_path / "config"
    prefix = (*KEEP_PANE, "env", f"NETMEDIC_CONFIG_DIR={config}")
    tmux.start_netmedic(tmp_path, f"127.0.0.1:{port}", "--symptom", "refused", prefix=prefix)
    screen = tmux.wait_for("local.not_listening", timeout=40)
    assert "esc Back" in screen and "f1 Help" in screen  # the footer at 80 columns
    tmux.keys("?")
    page = tmux.wait_for("netmedic keys", timeout=10)
    lines = page.splitlines()
    assert len(lines) <= 24
    start = next(i for i, line in enumerate(lines) if "Everywhere" in line)
    first = "\n".join(lines[start:])
    for key, meaning in (("q", "Quit netmedic"), ("^c", "from any screen"), ("f1", "Every key")):
        assert any(line.lstrip().startswith(key) and meaning in line for line in lines), key
    assert "Diagnosis (this screen)" in first  # the screen's keys follow the app's
    tmux.keys("C-c")
    after = tmux.wait_for("EXITED 0", timeout=20)
    saved = load_session(None, tmp_path / "netmedic" / "sessions")
    assert f"netmedic: session {saved.id} saved" in after.replace("\n", "")  # as after q
    assert saved.runs and saved.runs[0].verdict == "local.not_listening"
