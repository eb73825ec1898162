"""The evidence decides what to probe (issue 13), end to end in the namespace lab.

Every scenario picks a symptom that does NOT name the fault (people pick the wrong one
all the time) and asserts that `netmedic check --json`, run in the client namespace,
still names the root cause, that the probe holding the evidence ran, and why (the
JSON's ``plan``, ``followups`` and ``cut_short``).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from tests.lab.netns import Lab
from tests.lab.topology import Topology, build

pytestmark = pytest.mark.lab

SERVER = "10.2.0.2"
SILENT = "10.2.0.3"  # the router drops everything to it: a host that is down


@pytest.fixture(scope="module")
def topo(module_lab: Lab) -> Iterator[Topology]:
    topo = build(module_lab)
    lab = module_lab
    lab.write_etc(topo.client, "resolv.conf", "nameserver 10.2.0.53\noptions timeout:1\n")
    lab.python(
        topo.server,
        "tests.lab.httpstatus",
        f"{SERVER}:8090=503",
        f"{SERVER}:8091=429",
        f"{SERVER}:8092=502",
        f"{SERVER}:8093=401",
        f"{SERVER}:8094=200",
    )
    lab.python(topo.server, "tests.lab.tcpserver", r"SSH-2.0-OpenSSH_9.2 lab\r\n", f"{SERVER}:8022")
    lab.python(
        topo.server,
        "tests.lab.tcpserver",
        r"-ERR max number of clients reached\r\n",
        f"{SERVER}:16379",
    )
    topo.set_router_rules(
        f"ip daddr {SILENT} drop",
        f"ip daddr {SERVER} tcp dport 8085 drop",
    )
    yield topo


def check(topo: Topology, target: str, symptom: str, timeout: str = "2") -> dict[str, Any]:
    done = topo.lab.run(
        topo.client,
        [sys.executable, "-m", "tui.cli", "check", "--json", "--timeout", timeout,
         "--symptom", symptom, target],
    )  # fmt: skip
    assert done.returncode in (0, 1), done.stderr
    doc: dict[str, Any] = json.loads(done.stdout)
    assert doc["verdict"] != "ok" or done.returncode == 0
    return doc


def ran(doc: dict[str, Any]) -> dict[str, str]:
    return {p["probe"]: p["status"] for p in doc["probes"]}


def followed(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["probe"]: f for f in doc["followups"]}


@pytest.mark.parametrize(
    ("port", "symptom", "verdict"),
    [
        (8090, "timeout", "http.unavailable"),
        (8090, "service-down", "http.unavailable"),
        (8091, "refused", "http.rate_limited"),
        (8092, "too-many-connections", "http.bad_gateway"),
    ],
)
def test_a_url_always_gets_its_protocol_probe(
    topo: Topology, port: int, symptom: str, verdict: str
) -> None:
    doc = check(topo, f"http://{SERVER}:{port}/health", symptom)
    assert doc["verdict"] == verdict
    assert ran(doc)["http"] == "failed"
    reasons = {p["probe"]: p["reason"] for p in doc["plan"]}
    assert "http" in reasons  # from the runbook, or because the target is an http:// URL
    if symptom != "timeout":  # the 'timeout' runbook has HTTP; the others do not
        assert "http://" in reasons["http"]


def test_a_bare_port_that_answers_http_gets_the_http_probe(topo: Topology) -> None:
    doc = check(topo, f"{SERVER}:8093", "refused")
    assert doc["verdict"] == "http.unauthorized"
    step = followed(doc)["http"]
    assert step["trigger"] == "tcp" and "HTTP" in step["reason"]


def test_a_bare_port_that_answers_redis_gets_the_service_probe(topo: Topology) -> None:
    doc = check(topo, f"{SERVER}:16379", "refused")
    assert "service" in followed(doc)
    assert ran(doc)["service"] == "failed"
    assert doc["verdict"] == "service.too_many_connections"


def test_another_protocol_than_the_url_names_is_not_ok(topo: Topology) -> None:
    doc = check(topo, f"http://{SERVER}:8022/", "refused")
    assert doc["verdict"] in ("http.not_http", "service.wrong_protocol")
    evidence = " ".join(e for f in doc["findings"] for e in f["evidence"])
    assert "SSH" in evidence


def test_a_host_that_answers_nothing_is_host_down_not_filtered(topo: Topology) -> None:
    """The 'tls' runbook has no path probes: the unanswered SYN asks for them."""
    doc = check(topo, f"https://{SILENT}/", "tls")
    steps = followed(doc)
    assert {"ping", "trace"} <= steps.keys()
    assert all(steps[p]["trigger"] == "tcp" for p in ("ping", "trace"))
    assert doc["verdict"] == "path.host_down"


def test_a_dropped_port_on_a_live_host_is_filtered(topo: Topology) -> None:
    doc = check(topo, f"{SERVER}:8085", "auth")
    assert {"ping", "trace"} <= followed(doc).keys()
    assert ran(doc)["ping"] == "ok"  # the host answers: only the port is dropped
    assert doc["verdict"] == "tcp.filtered"


def test_a_settled_verdict_cuts_the_path_probes_short(topo: Topology) -> None:
    """A RST from the server itself settles tcp.refused: ping cannot change it."""
    doc = check(topo, f"{SERVER}:8099", "timeout", timeout="3")
    assert doc["verdict"] == "tcp.refused"
    cut = {c["probe"] for c in doc["cut_short"]}
    assert {"ping", "trace"} <= cut
    assert all(ran(doc)[p] == "skipped" for p in cut)
    assert all("tcp.refused" in c["reason"] for c in doc["cut_short"])


def test_ok_promises_every_probe_finished(topo: Topology) -> None:
    doc = check(topo, f"http://{SERVER}:8094/", "slow")
    assert doc["verdict"] == "ok"
    assert doc["cut_short"] == []
    assert all(p["status"] in ("ok", "skipped") for p in doc["probes"])
