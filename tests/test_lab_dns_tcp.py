"""Issue 2 verdicts, end to end: `netmedic check --json` run inside a client
namespace against real resolvers, listeners and router firewall rules."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from tests.lab.checkdoc import evidence, finding, probe
from tests.lab.netns import Lab
from tests.lab.sshlab import SshLab
from tests.lab.topology import Topology, build

pytestmark = pytest.mark.lab

ZONE_COMMON: dict[str, Any] = {
    "api.lab.": {"A": ["10.2.0.2"], "AAAA": ["fd00:2::2"]},
    "v4.lab.": {"A": ["10.2.0.2"]},
    "alias.lab.": {"CNAME": "api.lab."},
    "broken.lab.": {"rcode": "SERVFAIL"},
    "slow.lab.": {"drop": True},
    "stale.lab.": {"A": ["10.2.0.2"]},
    "nodata.lab.": {"MX": ["10 mail.lab."]},
}
ZONE_53 = {**ZONE_COMMON, "split.lab.": {"A": ["10.2.0.2"]}}
ZONE_54 = {**ZONE_COMMON, "split.lab.": {"A": ["10.2.0.3"]}}
RESOLV = "nameserver 10.2.0.53\nnameserver 10.2.0.54\noptions timeout:1 attempts:1\n"
HOSTS = "127.0.0.1 localhost\n::1 localhost\n10.2.0.77 stale.lab\n"


@pytest.fixture(scope="module")
def topo(module_lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Topology]:
    topo = build(module_lab)
    lab = module_lab
    # Every test of this module shares the router, and its ICMP budget (1/s, burst 6):
    # earlier tests' traces can spend it, and an unreachable that was never sent would
    # make a verdict depend on test order. tests/test_lab_netpath.py covers the budget.
    for key in ("net.ipv4.icmp_ratelimit", "net.ipv6.icmp.ratelimit"):
        lab.ns(topo.router, "sysctl", "-qw", f"{key}=0")
    lab.write_etc(topo.client, "resolv.conf", RESOLV)
    lab.write_etc(topo.client, "hosts", HOSTS)
    lab.python(topo.server, "tests.lab.dnsserver", "10.2.0.53", "53", json.dumps(ZONE_53))
    lab.python(topo.server, "tests.lab.dnsserver", "10.2.0.54", "53", json.dumps(ZONE_54))
    # A real sshd: netmedic speaks SSH to a port whose banner says so, and a banner
    # that hangs up at the key exchange would be a broken server.
    SshLab(lab, tmp_path_factory.mktemp("sshd")).listen(
        topo.server,
        [
            "10.2.0.2:8080",
            "10.2.0.3:8080",
            "[fd00:2::2]:8080",
            "10.2.0.2:8081",
            "10.2.0.2:8082",
            "10.2.0.2:8083",
            "10.2.0.2:8084",
        ],
    )
    yield topo


@pytest.fixture
def rules(topo: Topology) -> Iterator[Topology]:
    yield topo
    topo.set_router_rules()


def check(topo: Topology, target: str, *extra: str) -> dict[str, Any]:
    done = topo.lab.run(
        topo.client,
        [sys.executable, "-m", "tui.cli", "check", "--json", "--timeout", "2", *extra, target],
    )
    assert done.returncode in (0, 1), done.stderr
    assert done.stderr == ""
    doc: dict[str, Any] = json.loads(done.stdout)
    assert doc["schema"] == "netmedic.check/1"
    has_error = any(f["severity"] == "error" for f in doc["findings"])
    assert done.returncode == (1 if has_error else 0)
    return doc


def test_healthy_listener_is_ok(topo: Topology) -> None:
    doc = check(topo, "api.lab:8080")
    assert doc["verdict"] == "ok", [(f["id"], f["evidence"]) for f in doc["findings"]]
    assert doc["target"]["addresses"] == ["fd00:2::2", "10.2.0.2"] or set(
        doc["target"]["addresses"]
    ) == {"fd00:2::2", "10.2.0.2"}
    ok = finding(doc, "tcp.open")
    assert ok["severity"] == "ok"
    assert "SSH" in "\n".join(ok["evidence"])
    attempts = probe(doc, "tcp")["data"]["attempts"]
    assert {a["state"] for a in attempts} == {"open"}
    assert {a["family"] for a in attempts} == {4, 6}


def test_cname_chain_is_reported(topo: Topology) -> None:
    doc = check(topo, "alias.lab:8080")
    assert doc["verdict"] == "ok"
    answers = probe(doc, "dns")["data"]["resolvers"]
    a = next(x for x in answers if x["rdtype"] == "A")
    assert a["cname_chain"] == ["api.lab."]
    assert a["addresses"] == ["10.2.0.2"]


def test_nxdomain(topo: Topology) -> None:
    doc = check(topo, "missing.lab:80")
    assert doc["verdict"] == "dns.nxdomain"
    text = evidence(doc, "dns.nxdomain")
    assert "10.2.0.53 A missing.lab.: NXDOMAIN" in text
    assert "10.2.0.54" in text
    steps = [s["command"] for s in finding(doc, "dns.nxdomain")["next_steps"] if s["command"]]
    assert "dig @10.2.0.53 missing.lab A" in steps
    assert probe(doc, "tcp")["status"] == "skipped"


def test_nodata(topo: Topology) -> None:
    doc = check(topo, "nodata.lab:80")
    assert doc["verdict"] == "dns.nodata"
    assert "no records (NODATA)" in evidence(doc, "dns.nodata")


def test_servfail(topo: Topology) -> None:
    doc = check(topo, "broken.lab:80")
    assert doc["verdict"] == "dns.servfail"
    text = evidence(doc, "dns.servfail")
    assert "SERVFAIL" in text and "10.2.0.53" in text
    rcodes = {r["rcode"] for r in probe(doc, "dns")["data"]["resolvers"]}
    assert rcodes == {"SERVFAIL"}


def test_dns_timeout(topo: Topology) -> None:
    doc = check(topo, "slow.lab:80")
    assert doc["verdict"] == "dns.timeout"
    rcodes = {r["rcode"] for r in probe(doc, "dns")["data"]["resolvers"]}
    assert rcodes == {"TIMEOUT"}
    assert "10.2.0.53" in finding(doc, "dns.timeout")["title"]


def test_hosts_override(topo: Topology) -> None:
    doc = check(topo, "stale.lab:8080")
    assert doc["verdict"] == "dns.hosts_override"
    f = finding(doc, "dns.hosts_override")
    assert f["severity"] == "error"
    text = "\n".join(f["evidence"])
    assert "stale.lab → 10.2.0.77" in text
    assert "DNS: stale.lab → 10.2.0.2" in text
    assert "connections to 10.2.0.77" in text
    assert doc["target"]["addresses"] == ["10.2.0.77"]


def test_resolvers_disagree(topo: Topology) -> None:
    doc = check(topo, "split.lab:8080")
    assert doc["verdict"] == "dns.resolvers_disagree"
    text = evidence(doc, "dns.resolvers_disagree")
    assert "10.2.0.53 A split.lab.: 10.2.0.2" in text
    assert "10.2.0.54 A split.lab.: 10.2.0.3" in text


def test_closed_port_is_refused(topo: Topology) -> None:
    doc = check(topo, "v4.lab:9")
    assert doc["verdict"] == "tcp.refused"
    assert "10.2.0.2:9 refused (ECONNREFUSED)" in evidence(doc, "tcp.refused")


def test_router_reject_with_reset_is_refused(rules: Topology) -> None:
    rules.set_router_rules("tcp dport 8081 reject with tcp reset")
    doc = check(rules, "v4.lab:8081")
    assert doc["verdict"] == "tcp.refused"
    assert "ECONNREFUSED" in evidence(doc, "tcp.refused")


def test_router_drop_is_filtered(rules: Topology) -> None:
    rules.set_router_rules("tcp dport 8082 drop")
    doc = check(rules, "v4.lab:8082")
    assert doc["verdict"] == "tcp.filtered"
    assert "10.2.0.2:8082 filtered (TIMEOUT)" in evidence(doc, "tcp.filtered")
    assert doc["duration_s"] < 2 + 1.5  # answered within --timeout plus a margin


def test_admin_prohibited_names_the_firewall(rules: Topology) -> None:
    rules.set_router_rules("tcp dport 8083 reject with icmpx type admin-prohibited")
    doc = check(rules, "v4.lab:8083")
    assert doc["verdict"] == "path.admin_prohibited"
    f = finding(doc, "path.admin_prohibited")
    assert "10.1.0.1" in f["title"]
    assert "communication administratively prohibited" in "\n".join(f["evidence"])


def test_net_unreachable_names_the_router(rules: Topology) -> None:
    rules.set_router_rules("tcp dport 8084 reject with icmpx type no-route")
    doc = check(rules, "v4.lab:8084")
    assert doc["verdict"] == "path.unreachable"
    assert "router 10.1.0.1" in finding(doc, "path.unreachable")["title"]


def test_no_route(topo: Topology) -> None:
    doc = check(topo, "10.99.0.1:80")
    assert doc["verdict"] == "route.none"
    assert "ENETUNREACH" in evidence(doc, "route.none")
    assert "tcp.refused" not in [f["id"] for f in doc["findings"]]


def test_ipv6_broken(rules: Topology) -> None:
    rules.set_router_rules("ip6 daddr fd00:2::2 tcp dport 8080 drop")
    doc = check(rules, "api.lab:8080")
    assert doc["verdict"] == "tcp.ipv6_broken"
    text = evidence(doc, "tcp.ipv6_broken")
    assert "[fd00:2::2]:8080 filtered" in text
    assert "10.2.0.2:8080 open" in text
    assert "tcp.filtered" not in [f["id"] for f in doc["findings"]]
