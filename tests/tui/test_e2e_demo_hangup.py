"""``netmedic demo`` in tmux (issue 26): after diagnosing a case and a hang-up (SIGHUP,
the SSH link dropping), no temporary directory and no recent target is left."""

from __future__ import annotations

import os
import shutil
import signal
from pathlib import Path

import pytest

from tests.tui.tmux import Tmux, tmux, wait_exit

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
__all__ = ["tmux"]  # the fixture


def test_demo_hang_up_leaves_no_trace(tmux: Tmux, tmp_path: Path) -> None:
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    prefix = ("env", f"TMPDIR={scratch}", f"NETMEDIC_CONFIG_DIR={tmp_path / 'config'}")
    pid = tmux.start_netmedic(tmp_path, "demo", prefix=prefix)
    tmux.wait_for("Broken services", timeout=30)
    assert list(scratch.glob("netmedic-demo-*"))  # the lab's certificates, while it runs
    tmux.keys("Enter")  # the first case: a diagnosis, which used to become a recent target
    tmux.wait_for("Findings", timeout=40)
    os.kill(pid, signal.SIGHUP)  # env execs python: the pane's pid is netmedic's
    wait_exit(pid, timeout=20)
    assert not list(scratch.glob("netmedic-demo-*"))
    assert not (tmp_path / "netmedic" / "recent.json").exists()
    assert list((tmp_path / "netmedic" / "sessions").glob("*.jsonl"))  # saved, as any session
