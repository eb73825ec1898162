"""Drive the real ``netmedic`` binary in a private tmux server (end-to-end tests)."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from probes.record.session import Session, load_session

ROOT = Path(__file__).resolve().parents[2]


class Tmux:
    def __init__(self, name: str) -> None:
        self.base = ["tmux", "-L", name]

    def __call__(self, *args: str) -> str:
        out = subprocess.run([*self.base, *args], capture_output=True, text=True, check=True)
        return out.stdout

    def start_netmedic(
        self,
        state_dir: Path,
        *args: str,
        session: str = "nm",
        size: tuple[int, int] = (80, 24),
        prefix: Sequence[str] = (),
    ) -> int:
        """Run ``netmedic ARGS`` (behind *prefix*, e.g. ``ip netns exec NS``) in a new
        tmux session; return its pid."""
        self(
            "new-session", "-d", "-s", session, "-x", str(size[0]), "-y", str(size[1]),
            "-c", str(state_dir),
            "-e", f"PYTHONPATH={ROOT}",
            "-e", f"XDG_STATE_HOME={state_dir}",
            "--",
            *prefix, sys.executable, "-m", "tui.cli", *args,
        )  # fmt: skip
        return int(self("display-message", "-p", "-t", session, "#{pane_pid}").strip())

    def screen(self, session: str = "nm") -> str:
        return self("capture-pane", "-p", "-t", session)

    def keys(self, *keys: str, session: str = "nm") -> None:
        self("send-keys", "-t", session, *keys)

    def wait_gone(self, text: str, timeout: float = 20.0, session: str = "nm") -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.screen(session)
            if text not in screen:
                return screen
            time.sleep(0.2)
        raise AssertionError(f"{text!r} still on screen after {timeout}s:\n{self.screen(session)}")

    def wait_for(self, text: str, timeout: float = 20.0, session: str = "nm") -> str:
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen(session)
            if text in screen:
                return screen
            time.sleep(0.1)
        raise AssertionError(f"{text!r} never appeared; screen was:\n{screen}")


def wait_exit(pid: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    raise AssertionError(f"netmedic (pid {pid}) still running after {timeout}s")


def wait_journal(state: Path, done: Callable[[Session], bool], timeout: float = 10.0) -> Session:
    """Poll the session journal under *state* ($XDG_STATE_HOME) until *done*."""
    deadline = time.monotonic() + timeout
    while True:
        saved = load_session(None, state / "netmedic" / "sessions")
        if done(saved):
            return saved
        if time.monotonic() > deadline:
            raise AssertionError(f"the journal never got there: {saved.runs} {saved.notes}")
        time.sleep(0.1)


_SERVERS = itertools.count()


@pytest.fixture
def tmux() -> Iterator[Tmux]:
    # A server of its own per test: a previous test's server may still be going away.
    t = Tmux(f"netmedic-test-{os.getpid()}-{next(_SERVERS)}")
    yield t
    subprocess.run([*t.base, "kill-server"], capture_output=True, check=False)
