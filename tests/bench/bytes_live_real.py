"""Bytes per second written to a pty by the real TUI, live ping + trace (real probes).

    python -m tests.bench.bytes_live_real TARGET [SECONDS] [COLSxROWS]

TARGET should be a path with hops (a namespace lab address, or this host's own
non-loopback address for a one-hop path); loopback targets have no ping/trace.
"""

from __future__ import annotations

import sys

from tests.bench.ptyrun import PtyProcess


def main() -> int:
    target = sys.argv[1]
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 15.0
    cols, rows = (int(x) for x in (sys.argv[3] if len(sys.argv) > 3 else "120x40").split("x"))
    argv = [sys.executable, "-m", "tui.cli", target, "--symptom", "intermittent"]
    proc = PtyProcess(argv, cols, rows)
    try:
        proc.wait_for(b"Trace", timeout=30)
        proc.read_for(12.0)  # warm-up: first window, panels filling
        total = proc.read_for(seconds)
    finally:
        proc.close()
    print(
        f"{cols}x{rows} real probes, {target}: {total} bytes in {seconds:.0f} s"
        f" = {total / seconds:.0f} B/s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
