"""Items 1 and 2: N checks at once (small N here; ``python -m tests.reliability.load``
runs 50) against refused, blackholed, slow, resetting and hostile targets.

Whatever the load: no failure is told ``ok`` (only the slow server given more time
than it needs may be), every check prints its JSON and exits 0 or 1 (never 134 or
3), and memory stays bounded.  ``NETMEDIC_RELIABILITY_N`` raises N.
"""

from __future__ import annotations

import json
import os

import pytest

from tests.lab.netns import lab_unavailable_reason
from tests.reliability.faultservers import ESCAPES
from tests.reliability.fleet import TARGETS, Outcome, fault_lab, right_verdicts, run_fleet

pytestmark = pytest.mark.skipif(
    lab_unavailable_reason() is not None, reason=str(lab_unavailable_reason())
)
N = int(os.environ.get("NETMEDIC_RELIABILITY_N", str(2 * len(TARGETS))))
MAX_RSS_KB = 200 * 1024


@pytest.fixture(scope="module")
def outcomes() -> list[Outcome]:
    with fault_lab() as (_, ns):
        return run_fleet(ns, N, (2.0, 2.5))


def test_every_check_exits_as_its_verdict_says_with_its_json(outcomes: list[Outcome]) -> None:
    assert len(outcomes) == N
    for o in outcomes:
        doc = json.loads(o.stdout)
        assert doc["schema"] == "netmedic.check/1"
        # 4 for incomplete (nothing verified), 1 for an error finding, else 0.
        assert o.returncode == o.expected_status, (o.kind, o.returncode, o.stderr[-500:])


def test_no_failure_is_told_ok(outcomes: list[Outcome]) -> None:
    for o in outcomes:
        if "ok" in right_verdicts(o.kind, o.timeout):
            continue
        assert o.verdict != "ok", (o.kind, o.stdout[-2000:])
        doc = json.loads(o.stdout)
        failed = [p["probe"] for p in doc["probes"] if p["status"] in ("failed", "error")]
        errors = [f["id"] for f in doc["findings"] if f["severity"] in ("error", "warning")]
        assert not failed or errors or doc["verdict"] == "incomplete", (o.kind, failed)


def test_memory_is_bounded(outcomes: list[Outcome]) -> None:
    assert max(o.max_rss_kb for o in outcomes) < MAX_RSS_KB


def test_hostile_text_is_inert_in_the_json(outcomes: list[Outcome]) -> None:
    for o in outcomes:
        text = o.stdout.decode("utf-8")
        assert "\x1b" not in text and "\x9b" not in text and "\u202e" not in text
        assert ESCAPES not in json.dumps(json.loads(text), ensure_ascii=False)


@pytest.mark.xfail(
    strict=False,
    reason="under load a reset can reach connect() as ECONNRESET (no tcp rule names it): "
    "probe.unexplained",
)
def test_every_verdict_is_the_right_one_or_incomplete(outcomes: list[Outcome]) -> None:
    wrong = [(o.kind, o.timeout, o.verdict) for o in outcomes if not o.right]
    assert not wrong
