"""End to end: the real ``netmedic`` in tmux at 80x24 against a loopback port.

Refused first; then a listener starts on the port, the person presses the
retest key, and the verdict turns ok.  Quitting leaves no process behind.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
ROOT = Path(__file__).resolve().parents[2]


class Tmux:
    def __init__(self, name: str) -> None:
        self.base = ["tmux", "-L", name]

    def __call__(self, *args: str) -> str:
        out = subprocess.run([*self.base, *args], capture_output=True, text=True, check=True)
        return out.stdout

    def screen(self) -> str:
        return self("capture-pane", "-p", "-t", "nm")

    def wait_gone(self, text: str, timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.screen()
            if text not in screen:
                return screen
            time.sleep(0.2)
        raise AssertionError(f"{text!r} still on screen after {timeout}s:\n{self.screen()}")

    def wait_for(self, text: str, timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            if text in screen:
                return screen
            time.sleep(0.1)
        raise AssertionError(f"{text!r} never appeared; screen was:\n{screen}")


@pytest.fixture
def tmux(tmp_path: Path) -> Iterator[Tmux]:
    t = Tmux(f"netmedic-test-{os.getpid()}")
    yield t
    subprocess.run([*t.base, "kill-server"], capture_output=True, check=False)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_refused_then_listener_then_green_retest(tmux: Tmux, tmp_path: Path) -> None:
    port = _closed_port()
    tmux(
        "new-session", "-d", "-s", "nm", "-x", "80", "-y", "24",
        "-c", str(tmp_path),
        "-e", f"NETMEDIC_STATE_DIR={tmp_path}",
        "-e", f"PYTHONPATH={ROOT}",
        "-e", f"XDG_STATE_HOME={tmp_path}",
        "--",
        sys.executable, "-m", "tui.cli", f"127.0.0.1:{port}", "--symptom", "refused",
    )  # fmt: skip
    pid = int(tmux("display-message", "-p", "-t", "nm", "#{pane_pid}").strip())
    # The target is this host, so the listener table explains the refusal.
    screen = tmux.wait_for("local.not_listening", timeout=40)
    assert f"127.0.0.1:{port}" in screen
    tmux.wait_gone("still probing", timeout=40)

    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", port))
        listener.listen(8)
        tmux("send-keys", "-t", "nm", "r")
        screen = tmux.wait_for("✔ ok: no problem found", timeout=40)
        assert "run 2" in screen

    tmux("send-keys", "-t", "nm", "C-q")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        raise AssertionError(f"netmedic (pid {pid}) still running after quit")
