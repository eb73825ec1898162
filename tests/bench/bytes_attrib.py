"""Where the bytes go: the real TUI in the lab chain (as tests.bench.bytes_live_lab),
each frame's bytes attributed to the widgets that wrote them (tests.bench.attrib_app).

    python -m tests.bench.bytes_attrib [SECONDS] [LOSS%] [COLSxROWS]

Prints bytes/s and frames/s per widget over SECONDS after the warm-up, and which
widgets asked for the relayouts that repainted the whole screen.  Needs root.
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections import Counter
from pathlib import Path

from tests.bench.bytes_live_lab import PORT, WARM_UP_S
from tests.bench.ptyrun import PtyProcess
from tests.lab import chain as C
from tests.lab.netns import Lab


def main() -> int:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 15.0
    loss = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    cols, rows = (int(x) for x in (sys.argv[3] if len(sys.argv) > 3 else "120x40").split("x"))
    with Lab("attrib") as lab, tempfile.TemporaryDirectory() as state:
        chain = C.build(lab)
        if loss:
            chain.rules("r2", forward=f"numgen random mod 100 < {loss} drop")
        lab.python(chain.server, "tests.lab.tcpserver", "", f"{C.SERVER_V4}:{PORT}")
        log = Path(state) / "frames.jsonl"
        argv = ["ip", "netns", "exec", chain.client, sys.executable, "-m"]
        argv += ["tests.bench.attrib_app", str(log), f"{C.SERVER_V4}:{PORT}"]
        argv += ["--symptom", "intermittent"]
        proc = PtyProcess(argv, cols, rows, env={"NETMEDIC_STATE_DIR": state, "HOME": state})
        try:
            proc.wait_for(b"Trace", timeout=30)
            proc.read_for(WARM_UP_S)
            start = _last_t(log)
            total = proc.read_for(seconds)
            end = _last_t(log)
        finally:
            proc.close()
        frames = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    for f in frames:
        if "dump" in f and start < f["t"] <= end:
            print(f["t"], f["span"], repr(f["text"]))
    frames = [f for f in frames if "dump" not in f]
    window = [f for f in frames if start < f["t"] <= end]
    per: Counter[str] = Counter()
    count: Counter[str] = Counter()
    asked: Counter[str] = Counter()
    for f in window:
        for name, size in f["bytes"].items():
            per[name] += size
            count[name] += 1
        for name in f.get("asked", ()):
            asked[name] += 1
    span = max(end - start, 1e-6)
    print(
        f"{cols}x{rows}, {loss}% loss: {total / seconds:.0f} B/s to the pty, {len(window)} frames"
    )
    for name, size in per.most_common():
        print(f"  {size / span:8.0f} B/s  {count[name] / span:5.2f}/s  {name}")
    if "-v" in sys.argv:
        for f in window:
            print(f["t"], f["full"], f["bytes"], f.get("who"), f.get("spans", "")[:12])
    for name, n in asked.most_common():
        print(f"  relayout asked by {name}: {n}")
    return 0


def _last_t(log: Path) -> float:
    lines = log.read_text().splitlines() if log.exists() else []
    return json.loads(lines[-1])["t"] if lines else 0.0


if __name__ == "__main__":
    sys.exit(main())
