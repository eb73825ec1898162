"""Kernel round trips through a slow link in the namespace lab, with the loop busy.

    client ── delaybridge (5 ms each way) ── server

The probes run in the client namespace (tests/lab/busycheck.py) while their own
event loop is blocked 50 ms at a time: the TCP connect time (TCP_INFO) and the
ping RTT (kernel receive stamps) must still read the link's 10 ms round trip.
"""

from __future__ import annotations

import json
import sys

import pytest

from probes.core.clocks import KERNEL
from tests.lab.checkdoc import probe
from tests.lab.netns import Lab

pytestmark = pytest.mark.lab

DELAY_MS = 5  # each way
RTT_S = 2 * DELAY_MS / 1000
# The bridge is a Python process on a shared machine: it adds its own scheduling
# delay (never less than the configured one); a figure timed by the blocked loop
# would be off by up to 50 ms.
SLACK_S = 0.012


def test_tcp_and_ping_read_the_links_round_trip_while_the_loop_is_blocked(lab: Lab) -> None:
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
    config = {"timeout": 3, "ping_count": 12, "ping_interval": 0.05, "ping_duration": 0}
    done = lab.run(
        client,
        [sys.executable, "-m", "tests.lab.busycheck", "10.31.0.2:8080", "tcp,ping",
         json.dumps(config), "50"],
    )  # fmt: skip
    assert done.stderr == ""
    doc = json.loads(done.stdout)
    (attempt,) = probe(doc, "tcp")["data"]["attempts"]
    assert attempt["state"] == "open" and attempt["syn_retransmits"] == 0
    assert RTT_S <= attempt["kernel_rtt_s"] <= RTT_S + SLACK_S, attempt
    (host,) = probe(doc, "ping")["data"]["hosts"]
    assert host["clock"] == KERNEL and host["stats"]["received"] == 12
    assert RTT_S <= host["median_s"] <= RTT_S + SLACK_S, host["median_s"]
