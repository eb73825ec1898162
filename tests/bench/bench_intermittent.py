"""``check --symptom intermittent`` against random loss in the namespace lab.

    sudo .venv/bin/python -m tests.bench.bench_intermittent [RUNS] [LOSS%,...]

For each loss rate (default 10, 20, 30%: ``numgen random`` drops that share of the
packets r2 forwards towards the server, so a ping round trip is lost that often),
runs ``netmedic check --json --symptom intermittent http://SERVER/`` RUNS times
(default 10) and prints how many said loss (``path.loss``), inconclusive (verdict
``incomplete``), ``ok`` or something else, with the pings each sample took and the
wall time.  Figures are measurements, not assertions.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections import Counter

from tests.lab import chain as C
from tests.lab.netns import Lab, lab_unavailable_reason

PORT = 8094
KINDS = {"path.loss": "loss", "incomplete": "inconclusive", "ok": "ok"}


def _one(lab: Lab, chain: C.Chain) -> tuple[str, int, float]:
    started = time.monotonic()
    done = lab.run(
        chain.client,
        [sys.executable, "-m", "tui.cli", "check", "--json", "--symptom", "intermittent",
         "--", f"http://{C.SERVER_V4}:{PORT}/"],
        timeout=120,
    )  # fmt: skip
    wall = time.monotonic() - started
    doc = json.loads(done.stdout)
    ping = next((p for p in doc["probes"] if p["probe"] == "ping"), None)
    sent = ping["data"]["hosts"][0]["stats"]["sent"] if ping and ping.get("data") else 0
    verdict = doc["verdict"]
    return KINDS.get(verdict, f"other: {verdict}"), sent, wall


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    rates = [int(x) for x in sys.argv[2].split(",")] if len(sys.argv) > 2 else [10, 20, 30]
    reason = lab_unavailable_reason()
    if reason:
        sys.exit(f"bench_intermittent: {reason}")
    began = time.monotonic()
    with Lab("bint") as lab:
        chain = C.build(lab)
        lab.python(chain.server, "tests.lab.httpstatus", f"{C.SERVER_V4}:{PORT}=200")
        lab.run(chain.client, ["ping", "-c", "1", "-W", "2", "--", C.SERVER_V4])
        print(f"check --symptom intermittent, {runs} runs per loss rate (5-hop lab chain)")
        print(f"{'loss':>5} | {'loss':>4} {'inconcl.':>8} {'ok':>3} {'other':>5} | "
              f"{'pings/run (median, min-max)':>28} | {'s/run (median)':>14}")  # fmt: skip
        for rate in rates:
            chain.rules("r2", forward=f'oifname "r2" numgen random mod 100 < {rate} drop')
            seen: Counter[str] = Counter()
            pings: list[int] = []
            walls: list[float] = []
            others: list[str] = []
            for _ in range(runs):
                kind, sent, wall = _one(lab, chain)
                seen["other" if kind.startswith("other") else kind] += 1
                if kind.startswith("other"):
                    others.append(kind.removeprefix("other: "))
                pings.append(sent)
                walls.append(wall)
            chain.clear()
            span = f"{statistics.median(pings):g} ({min(pings)}-{max(pings)})"
            print(
                f"{rate:>4}% | {seen['loss']:>4} {seen['inconclusive']:>8} {seen['ok']:>3} "
                f"{seen['other']:>5} | {span:>28} | {statistics.median(walls):>14.2f}"
                + (f"   other: {', '.join(others)}" if others else "")
            )
    print(f"total {time.monotonic() - began:.0f} s")


if __name__ == "__main__":
    main()
