"""Real faults where netmedic used to say "ok" or blame the wrong thing (namespace lab).

Each test runs the probes through ``Run`` + ``run_to_end`` inside a client
namespace (``tests.lab.pathcheck``) and asserts the verdict.
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


@pytest.fixture(scope="module")
def topo(module_lab: Lab) -> Iterator[Topology]:
    topo = build(module_lab)
    module_lab.python(topo.server, "tests.lab.tcpserver", "", "10.2.0.2:8080", "[fd00:2::2]:8080")
    yield topo


@pytest.fixture
def rules(topo: Topology) -> Iterator[Topology]:
    yield topo
    topo.set_router_rules()


def run(
    lab: Lab, ns: str, target: str, plan: str, prefix: tuple[str, ...] = (), **config: Any
) -> dict[str, Any]:
    config.setdefault("timeout", 2)
    done = lab.run(
        ns,
        [*prefix, sys.executable, "-m", "tests.lab.pathcheck", target, plan, json.dumps(config)],
    )
    assert done.returncode == 0, done.stderr
    doc: dict[str, Any] = json.loads(done.stdout)
    return doc


UNPRIVILEGED = (
    "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all",
    "--bounding-set=-all", "--",
)  # fmt: skip


@pytest.mark.parametrize("privileged", [True, False])
def test_trace_silence_is_not_loss(topo: Topology, privileged: bool) -> None:
    # The server's kernel rate-limits ICMP port unreachable (1/s, burst 6, its
    # default): most UDP trace probes to the destination go unanswered, while
    # every ping is answered.
    prefix = () if privileged else UNPRIVILEGED
    config: dict[str, Any] = {"trace_protocol": "udp", "trace_rounds": 20, "trace_interval": 0.05}
    config |= {"ping_count": 12, "ping_interval": 0.05, "ping_duration": 0, "trace_duration": 0}
    mode = {} if privileged else {"path_mode": "unprivileged"}
    doc = run(topo.lab, topo.client, "10.2.0.2:8080", "ping,trace", prefix, **config, **mode)
    trace = probe(doc, "trace")["data"]
    assert trace["mode"] == ("raw-udp" if privileged else "udp-recverr")
    assert trace["reached"] and trace["hops"][-1]["loss_pct"] > 20, trace["hops"]
    ping = probe(doc, "ping")["data"]["hosts"][0]["stats"]
    assert ping["received"] == ping["sent"] > 0
    assert "path.loss" not in ids(doc)
    assert finding(doc, "path.icmp_limited")["severity"] == "info"
    assert doc["verdict"] == "ok"


def test_icmp_errors_do_not_outweigh_a_connection_that_works(rules: Topology) -> None:
    # The router rejects ping and traceroute with "admin prohibited" but lets TCP through.
    rules.set_router_rules(
        "meta l4proto { icmp, udp } ip daddr 10.2.0.2 reject with icmpx type admin-prohibited"
    )
    doc = run(rules.lab, rules.client, "10.2.0.2:8080", "tcp,ping,trace")
    assert probe(doc, "tcp")["status"] == "ok"
    prohibited = finding(doc, "path.admin_prohibited")
    assert prohibited["severity"] == "info"
    assert "TCP connection to 10.2.0.2:8080 succeeded" in prohibited["title"]
    assert "path.host_down" not in ids(doc)
    assert not doc["verdict"].startswith("path.")


def test_dual_stack_with_broken_ipv6_is_ipv6_broken(rules: Topology) -> None:
    rules.lab.write_etc(rules.client, "hosts", "10.2.0.2 dual.lab\nfd00:2::2 dual.lab\n")
    rules.set_router_rules("ip6 daddr fd00:2::2 drop")
    doc = run(rules.lab, rules.client, "dual.lab:8080", "tcp,ping,trace")
    assert doc["verdict"] == "tcp.ipv6_broken"
    for fid in ("path.host_down", "path.unreachable"):
        assert all(f["severity"] == "info" for f in doc["findings"] if f["id"] == fid)
    assert "ping fd00:2::2: 0/" in "\n".join(finding(doc, "tcp.ipv6_broken")["evidence"])


@pytest.mark.parametrize(
    ("address", "router"), [("10.2.0.99", "10.1.0.1"), ("10.1.0.99", "10.1.0.2")]
)
def test_absent_host_on_a_connected_subnet_is_unreachable_with_ping_and_trace(
    lab: Lab, address: str, router: str
) -> None:
    """Nobody answers ARP for the address on the router's subnet (or this host's
    own): after ~3 s the kernel says EHOSTUNREACH.  Ping and traceroute run at the
    same time and used to flood the neighbour queue and spend the router's ICMP
    rate limit, so the connect only saw a timeout ("filtered")."""
    topo = build(lab)  # a fresh router: its ICMP rate-limit budget is untouched
    doc = run(lab, topo.client, f"{address}:5001", "tcp,ping,trace", timeout=5)
    attempt = probe(doc, "tcp")["data"]["attempts"][0]
    assert (attempt["state"], attempt["errno_name"]) == ("unreachable", "EHOSTUNREACH"), attempt
    assert doc["verdict"] == "path.unreachable"
    unreachable = finding(doc, "path.unreachable")
    assert router in unreachable["title"]
    assert "EHOSTUNREACH" in "\n".join(unreachable["evidence"])
    assert "path.host_down" not in ids(doc) and "tcp.filtered" not in ids(doc)


def local_rules(topo: Topology, rule: str) -> None:
    topo.lab.nft(
        topo.client,
        "table inet localfw {\n chain output {\n"
        "  type filter hook output priority 0; policy accept;\n"
        "  ct state established,related accept\n"
        f"  {rule}\n }}\n}}\n",
    )


@pytest.fixture
def own_firewall(topo: Topology) -> Iterator[Topology]:
    yield topo
    topo.lab.run(topo.client, ["nft", "delete", "table", "inet", "localfw"])


@pytest.mark.parametrize(
    ("rule", "verdict"),
    [
        ("ip daddr 10.2.0.2 tcp dport 8080 counter drop", "drop"),
        ("tcp dport { 8080, 9000 } reject with icmpx type admin-prohibited", "reject"),
    ],
)
def test_this_hosts_own_firewall_is_named(own_firewall: Topology, rule: str, verdict: str) -> None:
    topo = own_firewall
    local_rules(topo, rule)
    doc = run(topo.lab, topo.client, "10.2.0.2:8080", "tcp,ping,firewall")
    assert doc["verdict"] == "local.firewall_blocked"
    blocked = finding(doc, "local.firewall_blocked")
    assert f"own firewall {verdict}s connections to 10.2.0.2:8080" in blocked["title"]
    assert "table inet localfw, chain output, handle" in blocked["title"]
    assert rule.split(" counter")[0].split(" reject")[0] in blocked["title"]
    commands = [s["command"] for s in blocked["next_steps"]]
    assert "nft -a list chain inet localfw output" in commands
    # The remote is no longer blamed, nor a "firewall at" this host's own address.
    assert not {"tcp.filtered", "path.admin_prohibited", "tcp.refused"} & set(ids(doc))
    fw = probe(doc, "firewall")
    assert fw["status"] == "failed" and fw["data"]["rules"][0]["verdict"] == verdict


def test_own_firewall_rules_for_other_traffic_are_not_blamed(own_firewall: Topology) -> None:
    local_rules(own_firewall, "ip daddr 10.2.0.2 tcp dport 5432 drop")
    doc = run(own_firewall.lab, own_firewall.client, "10.2.0.2:8080", "tcp,firewall")
    assert probe(doc, "firewall")["status"] == "ok"
    assert doc["verdict"] == "ok"
