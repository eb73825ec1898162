"""The 50-check figures, by hand (root): ``python -m tests.reliability.load [N]``.

Starts the fault lab (refused, blackholed, slow, resetting and hostile targets in a
namespace of its own), runs N ``netmedic check --json`` at once with timeouts 2..5 s
and prints, per target and overall: verdicts, exit statuses, wall time p50/max and
peak RSS.  The last line says whether every verdict was right (or ``incomplete``),
no failure said ``ok`` and every exit status was the one its verdict calls for
(0, 1, or 4 for ``incomplete``).  Exit status 0 when so.
"""

from __future__ import annotations

import statistics
import sys
from collections import Counter

from tests.reliability.fleet import TARGETS, Outcome, fault_lab, run_fleet

TIMEOUTS = (2.0, 3.0, 4.0, 5.0)


def report(outcomes: list[Outcome]) -> bool:
    print(
        f"{'target':<10} {'n':>3}  {'verdicts':<44} {'exits':<10} {'p50 s':>6} {'max s':>6} {'RSS MB':>7}"
    )
    for kind in [*TARGETS, "all"]:
        group = [o for o in outcomes if kind in (o.kind, "all")]
        if not group:
            continue
        verdicts = ", ".join(f"{v}×{c}" for v, c in Counter(o.verdict for o in group).most_common())
        exits = ",".join(
            f"{e}×{c}" for e, c in sorted(Counter(o.returncode for o in group).items())
        )
        walls = [o.wall_s for o in group]
        rss = max(o.max_rss_kb for o in group) / 1024
        print(
            f"{kind:<10} {len(group):>3}  {verdicts:<44} {exits:<10} "
            f"{statistics.median(walls):>6.2f} {max(walls):>6.2f} {rss:>7.1f}"
        )
    wrong = [o for o in outcomes if not o.right or o.returncode != o.expected_status]
    for o in wrong:
        print(f"WRONG: {o.kind} --timeout {o.timeout}: verdict {o.verdict}, exit {o.returncode}")
        print("       " + o.stderr.decode(errors="replace")[-300:].replace("\n", " | "))
    print(f"{len(outcomes)} checks: {'all right' if not wrong else f'{len(wrong)} wrong'}")
    return not wrong


def main() -> int:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    with fault_lab() as (_, ns):
        outcomes = run_fleet(ns, n, TIMEOUTS)
    return 0 if report(outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
