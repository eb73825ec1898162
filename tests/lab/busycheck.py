"""``tests.lab.pathcheck`` with the event loop kept busy in the same process.

    python -m tests.lab.busycheck TARGET PLAN CONFIG_JSON BLOCK_MS

Runs the probes while a task blocks the loop BLOCK_MS at a time (tests/loop_hog.py)
and prints the ``netmedic.check/1`` document: the figures netmedic reports must
not depend on when its loop got round to reading an answer.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

from probes.core.context import ProbeConfig
from probes.core.privileges import has_raw_socket
from probes.core.target import parse_target
from probes.record.check_json import check_document
from probes.run.runner import Run, run_to_end
from tests.loop_hog import busy_loop


async def _busy_run(run: Run, block_s: float) -> None:
    async with busy_loop(block_s):
        await run_to_end(run)


def main() -> int:
    target, plan, raw, block_ms = sys.argv[1], sys.argv[2].split(","), sys.argv[3], sys.argv[4]
    run = Run(parse_target(target), "auto", ProbeConfig(**json.loads(raw)), plan=plan)
    started = time.monotonic()
    asyncio.run(_busy_run(run, float(block_ms) / 1000))
    doc = check_document(run, has_raw_socket(), time.monotonic() - started)
    sys.stdout.write(json.dumps(doc) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
