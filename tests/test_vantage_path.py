"""The collector's path layer (issue 25): tracepath's unprivileged trace, read from the
kernel's socket error queue, in a namespace lab; and netmedic's reading of it.

    client 10.1.0.2 fd00:1::2 ── router ── server 10.2.0.2, fd00:2::2 ...

The router's forward chain gives each target address one fate: reached, dropped
(silent after the router), rejected with host-unreachable or admin-prohibited.  The
collector runs in the client's namespace as ssh would run it (``python3 -`` with its
text on standard input), without ssh: what is tested is the kernel's answers.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from typing import Any

import pytest

from probes.core.context import ProbeContext
from probes.core.model import Finding, ProbeResult, Status, to_jsonable
from probes.core.target import parse_target
from probes.diagnosis import diagnose
from probes.record.revive import revive
from probes.remote import ssh
from probes.remote.compare import cell, first_difference, here_view, path_cell
from probes.remote.vantage import (
    PathHop,
    VantageAttempt,
    VantagePath,
    VantagesData,
    VantageView,
    read_path,
    read_view,
)
from tests.fake_engine import FakeNetwork
from tests.lab.netns import Lab, lab_unavailable_reason
from tests.lab.topology import build

lab_only = pytest.mark.skipif(
    lab_unavailable_reason() is not None, reason=lab_unavailable_reason() or ""
)

ROUTER_V4, ROUTER_V6 = "10.1.0.1", "fd00:1::1"
REACHED_V4, SILENT_V4, HOST_UNREACH_V4, PROHIBITED_V4 = (
    "10.2.0.2", "10.2.0.54", "10.2.0.53", "10.2.0.3",
)  # fmt: skip
REACHED_V6, SILENT_V6, PROHIBITED_V6 = "fd00:2::2", "fd00:2::9", "fd00:2::a"
NO_ROUTE = "192.0.2.1"  # the client has no default route
UDP_DROPPED = "10.2.0.55"  # the server drops UDP to it; its TCP port answers (a reset)
CLOSED_PORT = 15999


def collect(lab: Lab, ns: str, host: str) -> subprocess.Popen[bytes]:
    params = {"mode": "client", "host": host, "port": CLOSED_PORT, "timeout": 1, "budget": 4}
    with tempfile.TemporaryFile() as script:  # its standard input, as ssh gives it
        script.write(ssh.collector_script(params))
        script.seek(0)
        return subprocess.Popen(
            ["ip", "netns", "exec", ns, sys.executable, "-"],
            stdin=script,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )


Traced = tuple[dict[str, VantagePath], list[dict[str, Any]], dict[str, VantageView]]

# The collector traces one address per family; each name here gives it one pair.
NAMES = {
    "reached.lab": (REACHED_V4, REACHED_V6),
    "silent.lab": (SILENT_V4, SILENT_V6),
    "refused.lab": (HOST_UNREACH_V4, PROHIBITED_V6),
    "prohibited.lab": (PROHIBITED_V4,),
    "noroute.lab": (NO_ROUTE,),
    "noudp.lab": (UDP_DROPPED,),
}


@pytest.fixture(scope="module")
def traced() -> Iterator[Traced]:
    """Every address's path, from one collector run per name, all at once."""
    with Lab("vpath") as lab:
        topo = build(lab)
        # Runs at once share the router's ICMP budget toward the client (Linux: a burst
        # of 6, then 1/s per host): lifted here, so each run gets every answer.
        lab.ns(topo.router, "sysctl", "-qw", "net.ipv4.icmp_ratelimit=0")
        lab.ns(topo.router, "sysctl", "-qw", "net.ipv6.icmp.ratelimit=0")
        for extra in (SILENT_V6, PROHIBITED_V6):
            lab.ns(topo.server, "ip", "addr", "add", f"{extra}/64", "dev", "eth0", "nodad")
        lab.ns(topo.server, "ip", "addr", "add", f"{UDP_DROPPED}/24", "dev", "eth0")
        lab.nft(
            topo.server,
            "table inet guard {\n chain input {\n  type filter hook input priority 0; "
            f"policy accept;\n  ip daddr {UDP_DROPPED} meta l4proto udp drop\n }}\n}}\n",
        )
        topo.set_router_rules(
            f"ip daddr {SILENT_V4} drop",
            f"ip6 daddr {SILENT_V6} drop",
            f"ip daddr {HOST_UNREACH_V4} reject with icmp type host-unreachable",
            f"ip daddr {PROHIBITED_V4} reject with icmpx type admin-prohibited",
            f"ip6 daddr {PROHIBITED_V6} reject with icmpx type admin-prohibited",
        )
        hosts = "".join(f"{a} {name}\n" for name, pair in NAMES.items() for a in pair)
        lab.write_etc(topo.client, "hosts", f"127.0.0.1 localhost\n{hosts}")
        runs = [collect(lab, topo.client, name) for name in NAMES]
        paths: dict[str, VantagePath] = {}
        views: dict[str, VantageView] = {}
        docs: list[dict[str, Any]] = []
        for proc in runs:
            out, err = proc.communicate(timeout=30)
            assert proc.returncode == 0, err.decode()
            reply = ssh.classify("lab", 0, out, err, 0.1)
            assert reply.ok, out
            docs.append(reply.document)
            view = read_view("lab", reply)
            paths |= {p.address: p for p in view.paths}
            views |= {p.address: view for p in view.paths}
        yield paths, docs, views


@lab_only
def test_a_reached_address_shows_each_hop_ipv4_and_ipv6(
    traced: Traced,
) -> None:
    paths, _docs, _views = traced
    for address, router in ((REACHED_V4, ROUTER_V4), (REACHED_V6, ROUTER_V6)):
        path = paths[address]
        assert path.outcome == "reached", path
        assert [h.address for h in path.hops] == [router, address]
        assert path.stopped_at == 2 and path.protocol == "udp" and path.clock == "collector"
        assert all(h.ms > 0 for h in path.hops)
        assert path.describe() == f"reaches {address} in 2 hops"
        assert path_cell(path) == "2 hops"


@lab_only
def test_a_dropped_address_goes_silent_after_the_router(
    traced: Traced,
) -> None:
    paths, _docs, _views = traced
    for address, router in ((SILENT_V4, ROUTER_V4), (SILENT_V6, ROUTER_V6)):
        path = paths[address]
        assert path.outcome == "silent", path
        assert [h.address for h in path.hops] == [router, ""]
        assert path.stopped_at == 1
        assert path.describe() == f"goes silent after hop 1 ({router})"
        assert path_cell(path) == f"silent after {router}"


@lab_only
def test_icmp_unreachable_answers_name_the_router_and_the_code(
    traced: Traced,
) -> None:
    paths, _docs, _views = traced
    for address, router, words in (
        (HOST_UNREACH_V4, ROUTER_V4, "host unreachable (code 1)"),
        (PROHIBITED_V4, ROUTER_V4, "administratively prohibited (code 13)"),
        (PROHIBITED_V6, ROUTER_V6, "administratively prohibited (code 1)"),
    ):
        path = paths[address]
        # TTL 1 expires at the router before its forward chain; TTL 2 meets the reject.
        assert (path.outcome, path.detail, path.stopped_at) == ("unreachable", words, 2), path
        assert [h.address for h in path.hops] == [router, router]
        assert path.describe() == f"stops at hop 2 ({router}): {words}"
        assert path_cell(path) == f"unreach. at {router}"


@lab_only
def test_no_route_from_the_vantage_is_an_error_not_a_silence(
    traced: Traced,
) -> None:
    paths, _docs, _views = traced
    path = paths[NO_ROUTE]
    assert (path.outcome, path.detail, path.hops) == ("error", "Network is unreachable", ())


@lab_only
def test_a_server_dropping_udp_probes_still_arrives_by_its_port(traced: Traced) -> None:
    paths, docs, views = traced
    path, view = paths[UDP_DROPPED], views[UDP_DROPPED]
    assert view.tcp_state == "refused"  # a reset: packets get there
    assert (path.outcome, path.stopped_at) == ("silent", 1)
    assert [h.address for h in path.hops] == [ROUTER_V4, ""]
    assert "answered its port" in path.detail
    assert cell(view, "path") == "≥2 hops"
    (doc,) = [d for d in docs if d["path"][0]["address"] == UDP_DROPPED]
    # Settled once the port answered, not after two silent rounds.
    print(f"collector toward a server dropping UDP: {doc['collect_s']:.2f} s")


@lab_only
def test_the_trace_is_bounded_and_runs_alongside_the_connects(
    traced: Traced,
) -> None:
    _paths, docs, _views = traced
    for doc in docs:
        # Two silent rounds of a second, while connects to the dropped address wait theirs.
        print(f"collector with {len(doc['path'])} paths: {doc['collect_s']:.2f} s")
        assert len(doc["path"]) <= 2 and all(len(p["hops"]) <= 16 for p in doc["path"])
        assert doc["collect_s"] < 4 + 1  # the budget it was given, plus start-up


def test_a_hostile_path_document_is_bounded_and_sanitised() -> None:
    assert read_path({"address": "not an address", "outcome": "reached"}) is None
    assert read_path({"address": "10.0.0.5", "outcome": "\x1b[31mowned"}) is None
    path = read_path(
        {
            "address": "10.0.0.5",
            "outcome": "unreachable",
            "detail": "host unreachable\x1b]0;title\x07" + "x" * 500,
            "stopped_at": 10_000,
            "protocol": ["udp"],
            "hops": [{"ttl": 1, "address": "\x1b[2J", "ms": "nan"}, {"ttl": 99}, "junk"]
            + [{"ttl": t, "address": "10.0.0.1", "ms": 1e300} for t in range(2, 100)],
        }
    )
    assert path is not None
    assert "\x1b" not in path.detail and len(path.detail) <= 120
    assert path.stopped_at == 0  # out of range: not believed
    assert len(path.hops) <= 16 and all(1 <= h.ttl <= 16 for h in path.hops)
    assert path.hops[0].address == "" and path.hops[0].ms == 0.0
    assert json.dumps([h.ms for h in path.hops])  # finite numbers only


# -- what netmedic makes of it --------------------------------------------------------------

TARGET = "https://api.example.com/health"


async def _here_with_trace(listening: bool = True) -> dict[str, ProbeResult]:
    """This host's run (fake engine): reaches the address in 8 hops, hop 4 silent."""
    network = FakeNetwork(listening=listening)
    ctx = ProbeContext(parse_target(TARGET))
    out = {}
    for name in ("dns", "tcp", "tls", "http", "trace"):
        async for result in network.overrides()[name](ctx):
            out[name] = result
    return out


async def test_this_host_s_trace_is_the_here_view_of_the_path() -> None:
    here = here_view(await _here_with_trace())
    (path,) = here.paths
    assert (path.outcome, path.stopped_at, path.protocol) == ("reached", 8, "udp")
    assert [h.address for h in path.hops][2:5] == ["10.3.0.1", "", "10.5.0.1"]
    assert cell(here, "path") == "8 hops"


def _silent_after_hop_2(view: VantageView, address: str, tcp: str) -> VantageView:
    hops = (PathHop(1, "10.9.0.1", 0.4), PathHop(2, "10.9.1.1", 1.2), PathHop(3, ""))
    return dataclasses.replace(
        view,
        name="app2",
        dest="app2",
        tcp=(VantageAttempt(address, tcp),),
        paths=(VantagePath(address, "silent", "", 2, hops),),
    )


def _findings(results: dict[str, ProbeResult], there: VantageView) -> dict[str, Finding]:
    data = VantagesData((there,), 1, 10, 20.0)
    everything = {**results, "vantages": ProbeResult("vantages", Status.OK, 0.1, "", data)}
    return {f.id: f for f in diagnose(parse_target(TARGET), everything).findings}


async def test_a_trace_silent_before_a_server_that_answers_its_port_is_no_difference() -> None:
    results = await _here_with_trace()
    here = here_view(results)
    # The server drops UDP probes; its port answers from both places all the same.
    there = _silent_after_hop_2(here, here.paths[0].address, "open")
    assert first_difference(here, there) == ""
    assert cell(there, "path") == "≥3 hops"  # past the last hop heard: the port answers
    assert "path.differs_by_vantage" not in _findings(results, there)


async def test_where_packets_stop_differs_while_the_connection_fails_everywhere() -> None:
    results = await _here_with_trace(listening=False)  # refused here: packets arrive
    here = here_view(results)
    address = here.paths[0].address
    there = _silent_after_hop_2(here, address, "filtered")  # both fail: tcp agrees
    assert first_difference(here, there) == "path"
    f = _findings(results, there)["path.differs_by_vantage"]
    assert f.severity == "warning"
    assert f.title == (
        f"from here the path reaches {address} in 8 hops; "
        "from app2 it goes silent after hop 2 (10.9.1.1)"
    )
    assert (
        "path from app2 (udp, round trips by the remote script's clock): goes silent after "
        "hop 2 (10.9.1.1): 10.9.0.1 (0.4 ms) → 10.9.1.1 (1.2 ms) → *"
    ) in f.evidence


def test_paths_revive_from_their_json() -> None:
    path = VantagePath("10.0.0.5", "unreachable", "host unreachable (code 1)", 2,
                       (PathHop(1, "10.3.0.1", 0.3), PathHop(2, "10.3.0.1", 0.5)))  # fmt: skip
    views = VantagesData((VantageView("a", "a", ssh.OK, paths=(path,)),), 1, 10, 20.0)
    assert revive(VantagesData, json.loads(json.dumps(to_jsonable(views)))) == views


async def test_without_a_trace_this_host_s_ping_is_the_here_view() -> None:
    network = FakeNetwork(listening=True)
    ctx = ProbeContext(parse_target(TARGET))
    results = {}
    for name in ("dns", "tcp", "ping"):
        async for result in network.overrides()[name](ctx):
            results[name] = result
    (path,) = here_view(results).paths
    assert (path.outcome, path.protocol, path.hops) == ("reached", "icmp", ())
    assert path.describe() == f"reaches {path.address}" and path_cell(path) == "reached"
