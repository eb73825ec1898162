"""Bytes per second to a pty: the real TUI (live ping + trace, real probes) next to
mtr, both in the client namespace of the 5-hop lab chain (tests/lab/chain.py) with
LOSS% (default 10; 0: none) random loss on one link, at 120x40 and 80x24.

    sudo .venv/bin/python -m tests.bench.bytes_live_lab [SECONDS] [LOSS%] [COLSxROWS]

Figures are measurements, not assertions.  Needs root (namespaces) and mtr.
"""

from __future__ import annotations

import shutil
import sys
import tempfile

from tests.bench.ptyrun import PtyProcess
from tests.lab import chain as C
from tests.lab.netns import Lab

SIZES = ((120, 40), (80, 24))
PORT = 5432
WARM_UP_S = 12.0  # the first window (10 rounds) and the panels filling


def measure(argv: list[str], marker: bytes, cols: int, rows: int, seconds: float) -> float:
    with tempfile.TemporaryDirectory() as state:
        proc = PtyProcess(argv, cols, rows, env={"NETMEDIC_STATE_DIR": state, "HOME": state})
        try:
            proc.wait_for(marker, timeout=30)
            proc.read_for(WARM_UP_S)
            total = proc.read_for(seconds)
        finally:
            proc.close()
    return total / seconds


def main() -> int:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 15.0
    loss = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    sizes: tuple[tuple[int, int], ...] = SIZES
    if len(sys.argv) > 3:
        cols, rows = (int(x) for x in sys.argv[3].split("x"))
        sizes = ((cols, rows),)
    mtr = shutil.which("mtr", path="/usr/sbin:/usr/bin:/sbin:/bin")
    with Lab("bytes") as lab:
        chain = C.build(lab)
        if loss:  # packets r2 forwards are lost at random: the loss figures move
            chain.rules("r2", forward=f"numgen random mod 100 < {loss} drop")
        lab.python(chain.server, "tests.lab.tcpserver", "", f"{C.SERVER_V4}:{PORT}")
        inside = ["ip", "netns", "exec", chain.client]
        tui = [*inside, sys.executable, "-m", "tui.cli", f"{C.SERVER_V4}:{PORT}"]
        tui += ["--symptom", "intermittent"]
        print(
            f"lab chain, {loss}% random loss at r2, {seconds:.0f} s after {WARM_UP_S:.0f} s warm-up"
        )
        for cols, rows in sizes:
            rate = measure(tui, b"Trace", cols, rows, seconds)
            print(f"{cols}x{rows} netmedic live ping+trace: {rate:.0f} B/s")
            if mtr is not None:
                rate = measure(
                    [*inside, mtr, "-n", "--curses", C.SERVER_V4], b"Host", cols, rows, seconds
                )
                print(f"{cols}x{rows} mtr -n (curses):          {rate:.0f} B/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
