"""The SSH user's walk at 80x24, end to end in tmux with the real binary (issue 15).

Pick a symptom, name the target, see the probe panels, open a finding's whole
evidence, add a note, retest, export, quit — every step reachable with the keys the
footer shows, and the journal holding what was done.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from tests.probe_helpers import closed_port
from tests.tui.tmux import Tmux, tmux, wait_exit, wait_journal

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
__all__ = ["tmux"]  # the fixture


def wait_for_file(directory: Path, pattern: str, timeout: float = 20.0) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = sorted(directory.glob(pattern))
        if found:
            return found[0]
        time.sleep(0.2)
    raise AssertionError(f"no {pattern} in {directory} after {timeout}s")


def test_the_whole_walk_at_80x24(tmux: Tmux, tmp_path: Path) -> None:
    port = closed_port()
    pid = tmux.start_netmedic(tmp_path)
    screen = tmux.wait_for("Connection refused", timeout=30)
    assert "Quit" in screen and "Help" in screen  # the footer names quit and help

    tmux.keys("Enter")  # the first symptom: connection refused
    tmux.wait_for("Target", timeout=10)
    tmux.keys(f"127.0.0.1:{port}", "Enter")
    tmux.wait_for("local.not_listening", timeout=40)
    tmux.wait_for("Findings", timeout=40)  # narrow: the probes while probing, then findings

    tmux.keys("v")  # the probe panels, on a narrow terminal
    screen = tmux.wait_for("TCP connect", timeout=10)
    assert "refused" in screen
    tmux.keys("v")
    tmux.wait_for("Findings", timeout=10)

    tmux.keys("BTab")  # from the steps to the evidence
    tmux.keys("z")  # the evidence, whole screen
    screen = tmux.wait_gone("Next steps", timeout=10)
    assert "Evidence" in screen and f"port {port}" in screen
    tmux.keys("Escape")
    tmux.wait_for("Next steps", timeout=10)

    tmux.keys("n")
    tmux.wait_for("Add a note", timeout=10)  # the dialog (n is in F1, not the footer)
    tmux.keys("restarted qdrant, still refused", "Enter")
    tmux.wait_for("restarted qdrant, still refused", timeout=10)

    tmux.keys("r")
    wait_journal(tmp_path, lambda s: len(s.runs) == 2 and s.runs[1].finished, 60)

    tmux.keys("e")
    report = wait_for_file(tmp_path, "netmedic-*.md")
    text = report.read_text()
    assert "local.not_listening" in text and "restarted qdrant, still refused" in text

    tmux.keys("q")
    wait_exit(pid)
    saved = wait_journal(tmp_path, lambda s: s.ended, 10)
    assert [n.text for n in saved.notes] == ["restarted qdrant, still refused"]
    assert len(saved.runs) == 2
