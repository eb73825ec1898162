"""Bytes written to a 120x40 pty per second while the diagnosis screen shows
live ping and an 8-hop trace updating once a second.

    python -m tests.bench.bytes_per_second [SECONDS]
"""

from __future__ import annotations

import sys

from tests.bench.ptyrun import PtyProcess


def main() -> int:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 15.0
    proc = PtyProcess([sys.executable, "-m", "tests.bench.live_app"], 120, 40)
    try:
        proc.wait_for(b"hops to", timeout=30)
        proc.read_for(3.0)  # warm-up: first frames, panels filling
        total = proc.read_for(seconds)
    finally:
        proc.close()
    print(
        f"steady state: {total} bytes in {seconds:.0f} s = {total / seconds / 1024:.2f} KB/s"
        " (target <= 3 KB/s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
