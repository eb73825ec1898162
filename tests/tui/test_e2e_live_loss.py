"""Live means live, end to end (issue 14): the real binary in a pty (tmux) on the
5-hop namespace lab chain.  Loss is switched on at r2 mid-run and path.loss appears;
it is switched off and, once the window has moved past it, path.loss is cleared on
the screen and in the journal."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.lab import chain as C
from tests.lab.netns import Lab
from tests.tui.tmux import Tmux, tmux, wait_exit, wait_journal

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]
__all__ = ["tmux"]  # the fixture

PORT = 5432
INTERVAL_S = 0.25  # four rounds a second
WINDOW = 12  # rounds the findings read: loss that stops clears 3 s later
# Echo requests r2 drops while the loss is on: lossy in any window of 12.
LOSS = "icmp type echo-request numgen random mod 100 < 40 drop"


def test_loss_switched_on_and_off_is_raised_then_cleared(
    lab: Lab, tmux: Tmux, tmp_path: Path
) -> None:
    chain = C.build(lab)
    lab.python(chain.server, "tests.lab.tcpserver", "", f"{C.SERVER_V4}:{PORT}")
    pid = tmux.start_netmedic(
        tmp_path,
        f"{C.SERVER_V4}:{PORT}",
        "--symptom", "intermittent",
        "--interval", str(INTERVAL_S),
        "--window", str(WINDOW),
        size=(120, 40),
        prefix=("ip", "netns", "exec", chain.client),
    )  # fmt: skip
    # A clean path first: everything answers, the whole chain is traced.
    tmux.wait_for("● live", timeout=60)
    tmux.wait_for("5/5 hops answering", timeout=60)
    assert "path.loss" not in tmux.screen()

    chain.rules("r2", forward=LOSS)
    screen = tmux.wait_for("path.loss", timeout=60)
    assert "packet loss" in screen

    chain.rules("r2")  # the loss stops
    screen = tmux.wait_for("path.loss cleared at", timeout=60)

    saved = wait_journal(
        tmp_path,
        lambda s: any(
            m.change == "cleared" and m.finding_id == "path.loss" for m in s.finding_moves
        ),
        timeout=20,
    )
    moves = [(m.finding_id, m.change) for m in saved.finding_moves if m.finding_id == "path.loss"]
    assert moves[:2] == [("path.loss", "raised"), ("path.loss", "cleared")]

    tmux.keys("q")
    wait_exit(pid, timeout=15)
    # Quitting is a live run's normal end: finished (stopped), not cut short.
    saved = wait_journal(tmp_path, lambda s: s.ended, timeout=10)
    assert saved.runs[-1].finished and saved.runs[-1].stopped
    assert saved.verdict_text != "incomplete" and "incomplete" not in saved.verdict_text
