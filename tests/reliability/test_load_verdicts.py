"""Issue 22: the healthy slow server under load gives no error finding.

N (8; ``NETMEDIC_LOAD_N`` raises it) ``netmedic check --timeout 5`` at once of a server
that answers 200 after 3 s, in a lab namespace, while two processes spin on the CPUs.
Each check says the server is fine, or that it could not finish (``incomplete``): a
client that could not run is never reported as a server that did not answer
(``tcp.filtered``, ``http.timeout``).  ``python -m tests.bench.bench_load_verdicts``
runs the 50-way version and prints the counts.
"""

from __future__ import annotations

import json
import os

import pytest

from tests.lab.netns import lab_unavailable_reason
from tests.reliability.faultservers import PORTS
from tests.reliability.fleet import cpu_hogs, fault_lab, run_checks

pytestmark = pytest.mark.skipif(
    lab_unavailable_reason() is not None, reason=str(lab_unavailable_reason())
)
N = int(os.environ.get("NETMEDIC_LOAD_N", "8"))
TARGET = f"http://127.0.0.1:{PORTS['slow']}/"


def test_a_healthy_slow_server_under_load_gets_no_error_finding() -> None:
    with fault_lab() as (_, ns), cpu_hogs(2):
        outcomes = run_checks(ns, [("slow", TARGET, 5.0)] * N)
    assert len(outcomes) == N
    for o in outcomes:
        assert o.returncode == 0, (o.returncode, o.stdout[-2000:], o.stderr[-500:])
        doc = json.loads(o.stdout)
        errors = [f["id"] for f in doc["findings"] if f["severity"] == "error"]
        assert not errors, (errors, doc["verdict"])
        assert doc["verdict"] in ("ok", "http.slow_response", "incomplete", "local.close_wait")
        http = next(p for p in doc["probes"] if p["probe"] == "http")
        assert http["status"] in ("ok", "error"), http  # answered, or could not finish
