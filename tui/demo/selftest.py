"""``netmedic demo --check``: diagnose every broken service, compare with its verdict.

Each case is a headless ``check`` (the same :class:`~probes.run.runner.Run`,
settled as ``netmedic check`` settles it), all of them concurrently.  Nothing is
journaled: the self-test leaves no sessions behind.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from probes.core.context import ProbeConfig
from probes.core.target import parse_target
from probes.run.runner import Run, run_to_end
from tui.demo.cases import DEMO_NAME, DemoCase

SCHEMA = "netmedic.demo-check/1"


@dataclass(frozen=True, slots=True)
class CaseResult:
    case: DemoCase
    verdict: str
    title: str  # the verdict finding's one-line title ("" for ok/incomplete)
    findings: tuple[str, ...]
    duration_s: float

    @property
    def matched(self) -> bool:
        return self.verdict == self.case.expected


def case_config(case: DemoCase, ca_file: str) -> ProbeConfig:
    return ProbeConfig(
        timeout=case.timeout, ca_file=ca_file or None, origin=case.origin, self_name=DEMO_NAME
    )


async def check_case(case: DemoCase, ca_file: str) -> CaseResult:
    started = time.monotonic()
    run = Run(parse_target(case.target), case.symptom, case_config(case, ca_file))
    diagnosis = await run_to_end(run, settle=True)
    title = next((f.title for f in diagnosis.findings if f.id == diagnosis.verdict), "")
    return CaseResult(
        case,
        diagnosis.verdict,
        title,
        tuple(f.id for f in diagnosis.findings),
        time.monotonic() - started,
    )


async def check_all(cases: Sequence[DemoCase], ca_file: str) -> list[CaseResult]:
    """Every case at once: they wait on servers, not on the CPU."""
    return list(await asyncio.gather(*(check_case(c, ca_file) for c in cases)))


def document(results: Sequence[CaseResult], duration_s: float) -> dict[str, Any]:
    """The ``--json`` object."""
    return {
        "schema": SCHEMA,
        "passed": all(r.matched for r in results),
        "duration_s": round(duration_s, 3),
        "cases": [
            {
                "id": r.case.id,
                "title": r.case.title,
                "target": r.case.target,
                "symptom": r.case.symptom,
                "expected": r.case.expected,
                "actual": r.verdict,
                "match": r.matched,
                "verdict_title": r.title,
                "findings": list(r.findings),
                "duration_s": round(r.duration_s, 3),
            }
            for r in results
        ],
    }
