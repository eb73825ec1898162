"""Run probes with a given ProbeConfig and print the ``netmedic.check/1`` document.

    python -m tests.lab.pathcheck TARGET PLAN CONFIG_JSON

For lab tests that need more rounds or pings than ``netmedic check`` fits in
its timeout; everything else is the same engine, runner and diagnosis.
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


def main() -> int:
    target, plan, raw = sys.argv[1], sys.argv[2].split(","), sys.argv[3]
    config = ProbeConfig(**json.loads(raw))
    run = Run(parse_target(target), "auto", config, plan=plan)
    started = time.monotonic()
    asyncio.run(run_to_end(run))
    doc = check_document(run, has_raw_socket(), time.monotonic() - started)
    sys.stdout.write(json.dumps(doc) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
