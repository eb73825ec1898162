"""Benchmark: verdicts under load (issue 22); prints figures, not a test.  Root only.

    python -m tests.bench.bench_load_verdicts [N] [HOGS]

N (50) ``netmedic check --json --timeout 5`` at once of a healthy HTTP server that
answers ``200`` after 3 s (the fault lab's ``slow`` server, in a namespace of its own),
while HOGS (2) processes spin on the CPUs.  Every check should say ``ok`` or
``http.slow_response``, or ``incomplete`` when this machine could not run it in time:
never an error finding (a client that could not run is not a server that did not
answer).  Prints the verdict counts, the error findings (id x count), exit statuses,
wall time p50/max, and the line "N checks: K with an error finding".
"""

from __future__ import annotations

import json
import statistics
import sys
from collections import Counter

from tests.lab.netns import lab_unavailable_reason
from tests.reliability.faultservers import PORTS
from tests.reliability.fleet import Outcome, cpu_hogs, fault_lab, run_checks

TIMEOUT = 5.0
TARGET = f"http://127.0.0.1:{PORTS['slow']}/"


def error_findings(outcome: Outcome) -> list[str]:
    try:
        doc = json.loads(outcome.stdout)
    except ValueError:
        return ["(no JSON)"]
    return [f["id"] for f in doc["findings"] if f["severity"] == "error"]


def incomplete_probes(outcome: Outcome) -> list[str]:
    """The probes a check could not finish, with why (the probe.incomplete evidence)."""
    try:
        doc = json.loads(outcome.stdout)
    except ValueError:
        return []
    found = [f for f in doc["findings"] if f["id"] == "probe.incomplete"]
    return [" / ".join(f["evidence"])[:150] for f in found]


def report(outcomes: list[Outcome], hogs: int) -> int:
    verdicts = Counter(o.verdict for o in outcomes)
    errors = Counter(fid for o in outcomes for fid in error_findings(o))
    exits = Counter(o.returncode for o in outcomes)
    walls = [o.wall_s for o in outcomes]
    faulty = sum(bool(error_findings(o)) for o in outcomes)
    print(
        f"{len(outcomes)} checks of {TARGET} (answers in 3 s), --timeout {TIMEOUT:g}, {hogs} CPU hogs"
    )
    print("verdicts:       " + ", ".join(f"{v} x{c}" for v, c in verdicts.most_common()))
    print("error findings: " + (", ".join(f"{v} x{c}" for v, c in errors.most_common()) or "none"))
    why = Counter(line for o in outcomes for line in incomplete_probes(o))
    for line, count in why.most_common(6):
        print(f"  incomplete x{count}: {line}")
    print("exit statuses:  " + ", ".join(f"{e} x{c}" for e, c in sorted(exits.items())))
    print(f"wall s:         p50 {statistics.median(walls):.2f}, max {max(walls):.2f}")
    print(f"{len(outcomes)} checks: {faulty} with an error finding")
    return faulty


def main() -> int:
    reason = lab_unavailable_reason()
    if reason:
        print(f"skipped: {reason}", file=sys.stderr)
        return 2
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    hogs = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    with fault_lab() as (_, ns), cpu_hogs(hogs):
        outcomes = run_checks(ns, [("slow", TARGET, TIMEOUT)] * n)
    return 1 if report(outcomes, hogs) else 0


if __name__ == "__main__":
    sys.exit(main())
