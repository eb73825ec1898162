"""Path probes end to end in a four-router namespace chain: real packets, real faults."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from tests.lab import chain as C
from tests.lab.chain import Chain
from tests.lab.checkdoc import finding, ids, probe
from tests.lab.netns import Lab

pytestmark = pytest.mark.lab


@pytest.fixture(scope="module")
def chain(module_lab: Lab) -> Iterator[Chain]:
    ch = C.build(module_lab, mtu3=1400)
    # Warm up neighbour tables (the first IPv6 packet waits for NDP).
    for ns, addr in ((ch.client, C.SERVER_V4), (ch.client, C.SERVER_V6)):
        module_lab.run(ns, ["ping", "-c", "1", "-W", "2", "--", addr])
    yield ch


@pytest.fixture
def faults(chain: Chain) -> Iterator[Chain]:
    yield chain
    chain.clear()


def run(
    ch: Chain, target: str, plan: str, prefix: tuple[str, ...] = (), **config: Any
) -> dict[str, Any]:
    config.setdefault("timeout", 2)
    done = ch.lab.run(
        ch.client,
        [*prefix, sys.executable, "-m", "tests.lab.pathcheck", target, plan, json.dumps(config)],
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    doc: dict[str, Any] = json.loads(done.stdout)
    return doc


def hop_addresses(doc: dict[str, Any]) -> list[str]:
    return [
        h["responders"][0]["address"] if h["responders"] else "*"
        for h in probe(doc, "trace")["data"]["hops"]
    ]


def test_check_json_clean_path_refused_port_stays_refused(chain: Chain) -> None:
    done = chain.lab.run(
        chain.client,
        [sys.executable, "-m", "tui.cli", "check", "--json", "--timeout", "2", "--symptom",
         "timeout", f"{C.SERVER_V4}:22"],
    )  # fmt: skip
    assert done.stderr == ""
    doc = json.loads(done.stdout)
    assert doc["verdict"] == "tcp.refused"
    assert not [i for i in ids(doc) if i.startswith("path.") and i != "path.ok"]
    # The server's own RST settles the verdict: the path probes are stopped, not awaited.
    assert {c["probe"] for c in doc["cut_short"]} >= {"ping", "trace", "mtu"}


def test_the_path_probes_measure_a_clean_chain(chain: Chain) -> None:
    doc = run(chain, f"{C.SERVER_V4}:22", "ping,trace,mtu")
    assert not [i for i in ids(doc) if i.startswith("path.") and i != "path.ok"]
    trace = probe(doc, "trace")["data"]
    assert trace["reached"] and trace["mode"] == "raw-icmp"
    assert hop_addresses(doc) == C.HOPS_V4
    assert {"ttl", "loss_pct", "last_s", "avg_s", "best_s", "worst_s", "stdev_s"} <= set(
        trace["hops"][0]
    )
    ping = probe(doc, "ping")["data"]["hosts"][0]
    assert ping["stats"]["received"] == ping["stats"]["sent"] > 0
    assert probe(doc, "mtu")["data"]["path_mtu"] == 1400  # frag-needed comes back: PMTUD works


def test_ipv6_across_the_chain(chain: Chain) -> None:
    doc = run(chain, f"[{C.SERVER_V6}]:22", "ping,trace,mtu", trace_protocol="udp")
    assert hop_addresses(doc) == C.HOPS_V6
    assert probe(doc, "trace")["data"]["protocol"] == "udp"
    mtu = probe(doc, "mtu")["data"]
    assert mtu["path_mtu"] == 1400 and mtu["frag_needed_from"] == C.v6(2, 2)
    assert "path.ok" in ids(doc)


@pytest.mark.parametrize("family", [4, 6])
def test_silent_and_rate_limited_hops_are_not_loss(faults: Chain, family: int) -> None:
    faults.rules("r2", output="icmp type time-exceeded drop; icmpv6 type time-exceeded drop")
    faults.rules(
        "r3",
        output="icmp type time-exceeded limit rate over 3/second burst 2 packets drop;"
        "icmpv6 type time-exceeded limit rate over 3/second burst 2 packets drop",
    )
    target = f"{C.SERVER_V4}:22" if family == 4 else f"[{C.SERVER_V6}]:22"
    doc = run(faults, target, "trace", trace_rounds=12, trace_interval=0.1, timeout=1)
    hops = probe(doc, "trace")["data"]["hops"]
    expected = C.HOPS_V4 if family == 4 else C.HOPS_V6
    assert [h["status"] for h in hops] == ["ok", "silent", "ok", "ok", "destination"]
    assert hop_addresses(doc) == [expected[0], "*", *expected[2:]]
    assert hops[2]["loss_pct"] >= 30  # r3 answers only a few of 12
    assert hops[3]["loss_pct"] == 0 and hops[4]["loss_pct"] == 0
    assert "path.loss" not in ids(doc)
    title = finding(doc, "path.icmp_limited")["title"]
    assert "hop 2" in title and "hop 3" in title


def test_random_loss_on_one_link_is_located(faults: Chain) -> None:
    # 20% of packets leaving r3 towards r4 vanish: hops 4 and 5 lose, 1-3 do not.
    faults.rules("r3", forward='oifname "r3" numgen random mod 100 < 20 drop')
    doc = run(
        faults,
        f"{C.SERVER_V4}:22",
        "ping,trace",
        ping_count=200,
        ping_interval=0.01,
        ping_duration=0,
        trace_rounds=50,
        trace_interval=0.05,
        trace_duration=0,
        # The run's clock forgives starvation up to the timeout: 2 s keeps 200 pings and
        # 50 trace rounds measurable on a loaded 2-core machine (at 1 s a starved ping
        # probe was rightly cut as STARVED, with no figures to judge).
        timeout=2,
    )
    ping = probe(doc, "ping")
    assert ping["status"] == "ok" and ping["data"].get("hosts"), ping
    stats = ping["data"]["hosts"][0]["stats"]
    assert stats["sent"] == 200
    assert 8 <= stats["loss_pct"] <= 35  # 20% ± a wide binomial margin
    hops = probe(doc, "trace")["data"]["hops"]
    assert [h["loss_pct"] for h in hops[:3]] == [0, 0, 0]
    assert hops[3]["loss_pct"] >= 5 and hops[4]["loss_pct"] >= 5
    loss = finding(doc, "path.loss")
    assert f"starting at hop 4 ({C.v4(3, 2)})" in loss["title"]
    assert any(s["command"] == "ip -s link" for s in loss["next_steps"])


@pytest.mark.parametrize("family", [4, 6])
def test_mtu_black_hole(faults: Chain, family: int) -> None:
    faults.rules(
        "r3",
        output="icmp type destination-unreachable icmp code frag-needed drop;"
        "icmpv6 type packet-too-big drop",
    )
    target = f"{C.SERVER_V4}:22" if family == 4 else f"[{C.SERVER_V6}]:22"
    doc = run(faults, target, "ping,mtu")
    mtu = probe(doc, "mtu")["data"]
    assert mtu["path_mtu"] == 1400
    assert mtu["smallest_lost"] == 1401, mtu
    assert mtu["blackhole"] is True and mtu["local_mtu"] == 1500
    assert doc["verdict"] == "path.mtu_blackhole"
    commands = " ".join(
        s["command"] or "" for s in finding(doc, "path.mtu_blackhole")["next_steps"]
    )
    assert "-M do" in commands and "maxseg size set" in commands


@pytest.mark.parametrize(
    ("address", "router"), [(C.UNROUTED_V4, C.v4(2, 2)), (C.UNROUTED_V6, C.v6(2, 2))]
)
def test_router_without_route_is_named(chain: Chain, address: str, router: str) -> None:
    target = f"[{address}]:80" if ":" in address else f"{address}:80"
    doc = run(chain, target, "ping,trace")
    assert doc["verdict"] == "path.unreachable"
    assert router in finding(doc, "path.unreachable")["title"]
    trace = probe(doc, "trace")["data"]
    assert not trace["reached"] and trace["stopped_at"] == 3


def test_host_down(faults: Chain) -> None:
    faults.rules("r4", forward=f"ip daddr {C.SERVER_V4} drop")
    doc = run(faults, f"{C.SERVER_V4}:22", "tcp,ping,trace")
    assert doc["verdict"] == "path.host_down"
    trace = probe(doc, "trace")["data"]
    assert trace["stopped_at"] == 4 and not trace["reached"]
    assert C.v4(3, 2) in " ".join(s["text"] for s in finding(doc, "path.host_down")["next_steps"])


UNPRIVILEGED = (
    "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all",
    "--bounding-set=-all", "--",
)  # fmt: skip


@pytest.mark.parametrize(("ping_sockets", "family"), [(False, 4), (True, 4), (True, 6)])
def test_unprivileged_fallbacks(chain: Chain, ping_sockets: bool, family: int) -> None:
    value = "0 2147483647" if ping_sockets else "1 0"
    chain.lab.ns(chain.client, "sysctl", "-qw", f"net.ipv4.ping_group_range={value}")
    target = f"{C.SERVER_V4}:22" if family == 4 else f"[{C.SERVER_V6}]:22"
    try:
        doc = run(chain, target, "ping,trace,mtu", prefix=UNPRIVILEGED)
    finally:
        chain.lab.ns(chain.client, "sysctl", "-qw", "net.ipv4.ping_group_range=1 0")
    assert doc["privileged"] is False
    ping = probe(doc, "ping")
    assert ping["data"]["mode"] == ("icmp-dgram" if ping_sockets else "tcp-connect")
    assert ping["data"]["hosts"][0]["stats"]["received"] > 0  # RST answers count too
    trace = probe(doc, "trace")["data"]
    assert trace["mode"] == "udp-recverr" and trace["reached"]
    assert hop_addresses(doc) == (C.HOPS_V4 if family == 4 else C.HOPS_V6)
    mtu = probe(doc, "mtu")
    if ping_sockets:
        assert mtu["data"]["path_mtu"] == 1400
    else:
        assert mtu["status"] == "skipped" and "ping_group_range" in mtu["summary"]
    info = finding(doc, "privilege.no_raw_socket")
    assert info["severity"] == "info"
    assert any("udp-recverr" in line for line in info["evidence"])
    assert doc["verdict"] != "privilege.no_raw_socket"


JUNK = r"""
import sys, time, logging
logging.getLogger("scapy").setLevel(logging.CRITICAL)
from scapy.all import IP, ICMP, UDP, TCP, IPv6, Raw, send
from scapy.layers.inet6 import ICMPv6TimeExceeded, ICMPv6PacketTooBig, ICMPv6EchoReply
c4, c6 = sys.argv[1], sys.argv[2]
quoted = bytes(IP(src=c4, dst="10.10.4.2") / UDP(sport=40000, dport=33434))
junk = [
    IP(dst=c4) / ICMP(type=11) / Raw(quoted[:24]),            # quote cut inside UDP
    IP(dst=c4) / ICMP(type=11) / Raw(b"\x4f" + b"\0" * 10),     # inner IHL 60, 11 bytes
    IP(dst=c4) / ICMP(type=3, code=4) / Raw(b""),               # nothing quoted
    IP(dst=c4) / ICMP(type=0, id=1, seq=1),                     # echo reply, not ours
    IP(dst=c4) / ICMP(type=11) / Raw(b"\x60" * 30),             # IPv6 inside ICMPv4
    IP(dst=c4, proto=1) / Raw(b"\x0b"),                          # 1-byte ICMP
    IP(dst=c4) / TCP(dport=40000, flags="SA", ack=0) / Raw(b"x"),
    IPv6(dst=c6) / ICMPv6TimeExceeded() / Raw(b"\x60\0\0"),
    IPv6(dst=c6) / ICMPv6PacketTooBig(mtu=0) / Raw(b""),
    IPv6(dst=c6) / ICMPv6EchoReply(id=7, seq=7),
    IPv6(dst=c6, nh=58) / Raw(b"\x03"),
]
print("ready", flush=True)
end = time.monotonic() + float(sys.argv[3])
while time.monotonic() < end:
    send(junk, verbose=0)
    time.sleep(0.01)
"""


def test_malformed_icmp_does_not_crash_the_receiver(chain: Chain) -> None:
    r1 = chain.routers["r1"]
    chain.lab.spawn(r1, [sys.executable, "-c", JUNK, C.v4(0, 1), C.v6(0, 1), "4"])
    for target in (f"{C.SERVER_V4}:22", f"[{C.SERVER_V6}]:22"):
        doc = run(chain, target, "ping,trace,mtu", trace_protocol="tcp")
        assert [p["status"] for p in doc["probes"]] == ["ok", "ok", "ok"], doc["probes"]
        expected = C.HOPS_V6 if "[" in target else C.HOPS_V4
        assert hop_addresses(doc) == expected
        assert probe(doc, "ping")["data"]["hosts"][0]["stats"]["loss_pct"] == 0


def test_ecmp_paris_flow_is_stable_and_per_packet_balancing_shows_both(lab: Lab) -> None:
    ch = C.build(lab, ecmp=True)
    lab.run(ch.client, ["ping", "-c", "1", "-W", "2", "--", C.SERVER_V4])
    for proto in ("udp", "tcp"):
        doc = run(ch, f"{C.SERVER_V4}:22", "trace", trace_protocol=proto, trace_rounds=6,
                  trace_interval=0.05, timeout=1)  # fmt: skip
        hops = probe(doc, "trace")["data"]["hops"]
        assert len(hops[1]["responders"]) == 1  # one flow, one path: no flapping
        assert hops[1]["responders"][0]["address"] in (C.v4(1, 2), "10.10.11.2")
    C.per_packet_balancing(ch)
    doc = run(ch, f"{C.SERVER_V4}:22", "trace", trace_rounds=6, trace_interval=0.05, timeout=1)
    hop2 = probe(doc, "trace")["data"]["hops"][1]
    assert {r["address"] for r in hop2["responders"]} == {C.v4(1, 2), "10.10.11.2"}
    assert hop_addresses(doc)[2:] == C.HOPS_V4[2:]


def test_latency_over_a_slow_link(lab: Lab) -> None:
    client = lab.add_host("c")
    bridge = lab.add_host("d")
    server = lab.add_host("s")
    lab.link(client, "eth0", ["10.30.0.1/24"], bridge, "dla", [])
    lab.link(bridge, "dlb", [], server, "eth0", ["10.30.0.2/24"])
    lab.python(bridge, "tests.lab.delaybridge", "dla", "dlb", "100")
    done = lab.run(
        client,
        [sys.executable, "-m", "tests.lab.pathcheck", "10.30.0.2:22", "ping",
         json.dumps({"timeout": 2, "ping_count": 8, "ping_interval": 0.1, "ping_duration": 0})],
    )  # fmt: skip
    assert done.stderr == ""
    doc = json.loads(done.stdout)
    host = probe(doc, "ping")["data"]["hosts"][0]
    assert 0.19 <= host["median_s"] <= 0.3
    latency = finding(doc, "path.latency")
    assert latency["severity"] == "warning" and "10.30.0.2" in latency["title"]
    assert doc["verdict"] == "path.latency"


def test_tcp_trace_finds_the_firewall_that_drops_the_port(faults: Chain) -> None:
    faults.rules("r3", forward="tcp dport 5432 drop")
    doc = run(faults, f"{C.SERVER_V4}:5432", "tcp,trace", trace_protocol="tcp")
    trace = probe(doc, "trace")["data"]
    assert trace["protocol"] == "tcp" and trace["port"] == 5432
    assert not trace["reached"] and trace["stopped_at"] == 3
    assert C.v4(2, 2) in trace["stop_reason"]
    assert doc["verdict"] == "tcp.filtered"
    icmp = run(faults, f"{C.SERVER_V4}:5432", "trace")  # ICMP still gets through
    assert probe(icmp, "trace")["data"]["reached"]


@pytest.mark.parametrize("family", [4, 6])
@pytest.mark.parametrize("protocol", ["tcp", "udp"])
def test_tcp_and_udp_trace_alone_see_every_hop(chain: Chain, family: int, protocol: str) -> None:
    """With no ping in the plan, the routers' ICMP answers to UDP/TCP probes are
    still read; the destination's RST passes the raw TCP socket's filter."""
    target = f"{C.SERVER_V4}:5433" if family == 4 else f"[{C.SERVER_V6}]:5433"
    doc = run(chain, target, "trace", trace_protocol=protocol)
    trace = probe(doc, "trace")["data"]
    assert trace["protocol"] == protocol and trace["reached"]
    assert hop_addresses(doc) == (C.HOPS_V4 if family == 4 else C.HOPS_V6)
