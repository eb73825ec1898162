"""``netmedic`` with its own peak memory printed last on stderr (``peak_rss_kb N``).

A child's ``ru_maxrss`` from ``wait4`` is not its own: Linux carries the high-water
mark of the process image an exec replaced (``ip netns exec`` replacing itself, and
before it the pytest worker that forked it), so a check started from a large test
process reports that process's size.  ``VmHWM`` is the current image's own peak.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence


def _report() -> None:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                print(f"peak_rss_kb {line.split()[1]}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    from tui import cli

    run_checks = cli.main

    def main_then_report(argv: Sequence[str] | None = None) -> int:
        code = run_checks(argv)
        _report()  # before console_main's exit, which may skip interpreter shutdown
        return code

    cli.main = main_then_report
    sys.argv[0] = "netmedic"
    sys.exit(cli.console_main())
