"""Silence is not failure (issue 22): a path that drops ICMP and UDP, as most cloud
firewalls do by default, in front of a healthy HTTP server.

Ping, trace and the MTU probe get nothing back: they measured nothing, which is a
note (``path.icmp_limited``), never a fault of a service that answers.  ``check``
says ``ok`` (exit 0), and ``watch`` never raises a path fault while every sampled
connection succeeds.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from tests.lab.checkdoc import finding, ids, probe
from tests.lab.netns import Lab
from tests.lab.topology import Topology, build

pytestmark = pytest.mark.lab

SERVER = "10.2.0.2"
TARGET = f"http://{SERVER}:8094/"
FAULTS = {"error", "warning"}


@pytest.fixture(scope="module")
def topo(module_lab: Lab) -> Iterator[Topology]:
    topo = build(module_lab)
    module_lab.python(topo.server, "tests.lab.httpstatus", f"{SERVER}:8094=200")
    topo.set_router_rules(
        f"ip daddr {SERVER} meta l4proto {{ icmp, udp }} drop",
        f"ip saddr {SERVER} meta l4proto {{ icmp, udp }} drop",
    )
    yield topo


def test_check_of_a_healthy_server_behind_an_icmp_dropping_path_is_ok(topo: Topology) -> None:
    done = topo.lab.run(
        topo.client, [sys.executable, "-m", "tui.cli", "check", "--json", "--timeout", "2", TARGET]
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    doc: dict[str, Any] = json.loads(done.stdout)
    assert {"http.ok", "tcp.open"} <= set(ids(doc))
    faults = [f for f in doc["findings"] if f["severity"] in FAULTS and not _starved(f)]
    assert not faults, faults
    # ok; on a machine too busy to run every probe in time, incomplete (saying so above)
    assert doc["verdict"] in ("ok", "incomplete"), doc["findings"]
    # The path probes really ran and really got nothing back ...
    assert probe(doc, "ping")["data"]["hosts"][0]["stats"]["received"] == 0
    assert probe(doc, "mtu")["data"]["path_mtu"] is None
    # ... and one note says what went unanswered and why that is no fault.
    note = finding(doc, "path.icmp_limited")
    assert note["severity"] == "info"
    assert "pings" in note["title"] and "path MTU" in note["title"]
    assert "TCP connection" in note["title"]


def _starved(finding: dict[str, Any]) -> bool:
    """A probe this process could not run in time (issue 22): missing evidence, no fault."""
    return finding["id"] == "probe.incomplete" and "could not run" in " ".join(finding["evidence"])


def test_watch_never_calls_the_path_down_while_connections_succeed(topo: Topology) -> None:
    done = topo.lab.run(
        topo.client,
        [sys.executable, "-m", "tui.cli", "watch", "--json", "--interval", "0.2",
         "--count", "30", "--", TARGET],
        timeout=90,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    ticks = [d for d in lines if "interval" in d]
    assert len(ticks) == 30
    assert ticks[-1]["connections"]["rates"].get("ok") == 100
    raised = [f["id"] for d in ticks for f in d.get("findings_raised", ())]
    assert not raised, raised  # nothing wrong: no warning or error ever came up
    # "incomplete" while a live probe has no complete window yet (issue 22, item 4)
    assert all(d["verdict"] in ("ok", "incomplete") for d in ticks)
