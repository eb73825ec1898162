"""Kernel round trips through a slow link in the namespace lab, with the loop busy.

    client ── delaybridge (5 ms each way) ── server

The probes run in the client namespace (tests/lab/busycheck.py) while their own
event loop is blocked 200 ms at a time: the TCP connect time (TCP_INFO) and the
ping RTT (kernel receive stamps) must still read the link's 10 ms round trip.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from typing import Any

import pytest

from probes.core.clocks import KERNEL, MIXED, WALL
from tests.lab import chain as C
from tests.lab.checkdoc import finding, ids, probe
from tests.lab.netns import Lab

pytestmark = pytest.mark.lab

DELAY_MS = 5  # each way
RTT_S = 2 * DELAY_MS / 1000
# The bridge is a Python process on a shared machine: it adds its own scheduling
# delay (never less than the configured one); a figure timed by the blocked loop
# would be off by up to 200 ms.
SLACK_S = 0.02


@dataclass(frozen=True)
class SlowLink:
    client: str
    server: str


@pytest.fixture(scope="module")
def slow_link(module_lab: Lab) -> SlowLink:
    """client ── bridge ── server (10.31.0.2, port 8080)."""
    lab = module_lab
    client = lab.add_host("c")
    bridge = lab.add_host("d")
    server = lab.add_host("s")
    lab.link(client, "eth0", ["10.31.0.1/24"], bridge, "dla", [])
    lab.link(bridge, "dlb", [], server, "eth0", ["10.31.0.2/24"])
    for ns in (client, server):
        # The bridge copies frames as they are: a checksum left to the NIC (veth's
        # offload) arrives unfilled and the TCP stack drops the segment.
        lab.ns(ns, "ethtool", "-K", "eth0", "tx", "off")
    lab.python(bridge, "tests.lab.delaybridge", "dla", "dlb", str(DELAY_MS))
    lab.python(server, "tests.lab.tcpserver", "", "10.31.0.2:8080")
    lab.run(client, ["ping", "-c", "2", "-W", "2", "--", "10.31.0.2"])  # neighbours resolved
    return SlowLink(client, server)


def busy_check(
    lab: Lab,
    ns: str,
    plan: str,
    prefix: tuple[str, ...] = (),
    extra: dict[str, float] | None = None,
) -> dict[str, Any]:
    config = {"timeout": 3, "ping_count": 12, "ping_interval": 0.05, "ping_duration": 0}
    config.update(extra or {})
    done = lab.run(
        ns,
        [*prefix, sys.executable, "-m", "tests.lab.busycheck", "10.31.0.2:8080", plan,
         json.dumps(config), "200"],
    )  # fmt: skip
    assert done.stderr == ""
    doc: dict[str, Any] = json.loads(done.stdout)
    return doc


def test_tcp_and_ping_read_the_links_round_trip_while_the_loop_is_blocked(
    module_lab: Lab, slow_link: SlowLink
) -> None:
    doc = busy_check(module_lab, slow_link.client, "tcp,ping")
    (attempt,) = probe(doc, "tcp")["data"]["attempts"]
    assert attempt["state"] == "open" and attempt["syn_retransmits"] == 0
    assert RTT_S <= attempt["kernel_rtt_s"] <= RTT_S + SLACK_S, attempt
    (host,) = probe(doc, "ping")["data"]["hosts"]
    assert host["clock"] == KERNEL and host["stats"]["received"] == 12
    assert RTT_S <= host["median_s"] <= RTT_S + SLACK_S, host["median_s"]


UNPRIVILEGED = (
    "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all",
    "--bounding-set=-all", "--",
)  # fmt: skip


def test_unprivileged_ping_sockets_are_kernel_stamped_too(
    module_lab: Lab, slow_link: SlowLink
) -> None:
    client = slow_link.client
    module_lab.ns(client, "sysctl", "-qw", "net.ipv4.ping_group_range=0 2147483647")
    try:
        doc = busy_check(module_lab, client, "ping", prefix=UNPRIVILEGED)
    finally:
        module_lab.ns(client, "sysctl", "-qw", "net.ipv4.ping_group_range=1 0")
    data = probe(doc, "ping")["data"]
    assert data["mode"] == "icmp-dgram"
    (host,) = data["hosts"]
    assert host["clock"] == KERNEL and host["stats"]["received"] == 12
    assert RTT_S <= host["median_s"] <= RTT_S + SLACK_S, host["median_s"]


def test_a_retransmitted_syn_is_timed_by_our_clock_and_says_why(
    module_lab: Lab, slow_link: SlowLink
) -> None:
    """The server drops every other SYN: the first is lost, the kernel resends it after
    its 1-s timeout.  It keeps no timestamp of the first SYN, so the connect time is
    our clock's, labelled so; the kernel's RTT (from the resent SYN) is beside it."""
    module_lab.nft(
        slow_link.server,
        "table inet synloss {\n chain input {\n  type filter hook input priority 0;\n"
        "  tcp dport 8080 tcp flags syn numgen inc mod 2 == 0 drop\n }\n}\n",
    )
    try:
        doc = busy_check(module_lab, slow_link.client, "tcp")
    finally:
        module_lab.ns(slow_link.server, "nft", "delete", "table", "inet", "synloss")
    (attempt,) = probe(doc, "tcp")["data"]["attempts"]
    assert attempt["state"] == "open" and attempt["syn_retransmits"] >= 1
    assert attempt["elapsed_s"] >= 1.0  # the kernel's SYN retransmission timeout
    assert "our clock: the SYN was retransmitted" in attempt["explanation"]
    assert "no kernel timestamp of the first" in attempt["explanation"]


SAMPLED: dict[str, float] = {"sample_interval": 0.05, "sample_count": 4, "sample_duration": 3}


def test_sampled_connects_read_the_links_round_trip_while_the_loop_is_blocked(
    module_lab: Lab, slow_link: SlowLink
) -> None:
    doc = busy_check(module_lab, slow_link.client, "connections", extra=SAMPLED)
    data = probe(doc, "connections")["data"]
    assert dict(data["kinds"]) == {"ok": 4} and data["connect"]["clock"] == KERNEL
    for attempt in data["recent"]:
        assert attempt["connect_clock"] == KERNEL
        assert RTT_S <= attempt["connect_s"] <= RTT_S + SLACK_S, attempt


def test_a_sampled_connect_after_a_retransmitted_syn_is_our_clocks_and_says_so(
    module_lab: Lab, slow_link: SlowLink
) -> None:
    """One SYN in three dropped: an attempt whose first SYN was lost is timed by our
    clock (the kernel keeps no stamp of it), the others by the kernel; the percentiles
    say the series is mixed."""
    module_lab.nft(
        slow_link.server,
        "table inet synloss {\n chain input {\n  type filter hook input priority 0;\n"
        "  tcp dport 8080 tcp flags syn numgen inc mod 3 == 0 drop\n }\n}\n",
    )
    try:
        doc = busy_check(module_lab, slow_link.client, "connections", extra=SAMPLED)
    finally:
        module_lab.ns(slow_link.server, "nft", "delete", "table", "inet", "synloss")
    data = probe(doc, "connections")["data"]
    assert dict(data["kinds"]) == {"ok": 4}, data["kinds"]
    clocks = {a["connect_clock"] for a in data["recent"]}
    assert clocks == {KERNEL, WALL} and data["connect"]["clock"] == MIXED
    for attempt in data["recent"]:
        if attempt["connect_clock"] == WALL:  # the kernel's SYN retransmission timeout
            assert attempt["connect_s"] >= 1.0 and attempt["connect_s"] == attempt["connect_wall_s"]
        else:
            assert RTT_S <= attempt["connect_s"] <= RTT_S + SLACK_S, attempt
    assert "(kernel, some by our clock)" in probe(doc, "connections")["summary"]


def test_slow_first_byte_behind_a_fast_routed_path_with_the_loop_busy(lab: Lab) -> None:
    """The issue's case: behind routers whose path answers ping in well under 1 ms, a
    server that takes 2.5 s to send its first byte, while ping shares the loop and the
    loop is blocked 300 ms at a time: http.slow_response, not ok."""
    ch = C.build(lab)
    lab.python(ch.server, "tests.lab.httpstatus", f"{C.SERVER_V4}:8081=200/2.5")
    lab.run(ch.client, ["ping", "-c", "1", "-W", "2", "--", C.SERVER_V4])
    config = {"timeout": 15, "ping_count": 10, "ping_interval": 0.1, "ping_duration": 0}
    done = lab.run(
        ch.client,
        [sys.executable, "-m", "tests.lab.busycheck", f"http://{C.SERVER_V4}:8081/",
         "http,ping", json.dumps(config), "300"],
    )  # fmt: skip
    assert done.stderr == ""
    doc = json.loads(done.stdout)
    assert doc["verdict"] == "http.slow_response", ids(doc)
    text = " ".join(finding(doc, "http.slow_response")["evidence"])
    assert "(kernel)" in text
    timings = probe(doc, "http")["data"]["timings"]
    assert timings["kernel_rtt_s"] < 0.005 and timings["kernel_think_s"] >= 2.5
