"""Invariant: every way the dns, route, tcp, ping, trace, mtu, local-firewall
probes can end FAILED yields at least one non-ok finding that explains it.

Walks the failure states the probes' data classes define, each alone (the
probe's result is the only evidence) and, for path probes, next to a TCP
connect that worked (the finding then says why the failure is not the cause).
"""

from __future__ import annotations

from typing import Any

import pytest

from probes.core.model import ProbeError, ProbeResult, Severity, Status
from probes.core.target import parse_target
from probes.diagnosis import diagnose
from probes.host.firewall import FirewallData, FirewallRule
from probes.net.dns import DnsData, ResolverAnswer, SystemAnswer
from probes.net.tcp import TcpAttempt, TcpData
from probes.path.mtu import MtuData
from probes.path.pathstats import RttStats
from probes.path.ping import PingData, PingHost
from probes.path.route import RouteData, RouteInfo
from probes.path.trace import Hop, Responder, TraceData
from probes.wire.icmp_errors import IcmpReport

ADDR = "10.0.0.5"
PORT = 8080


def failed(probe: str, data: Any, code: str = "FAILED") -> ProbeResult:
    return ProbeResult(probe, Status.FAILED, 1.0, f"{probe} failed", data, ProbeError(code, "x"))


def attempt(state: str, errno_name: str = "", icmp: IcmpReport | None = None, **kw: Any) -> Any:
    family = 6 if ":" in kw.get("address", ADDR) else 4
    address = kw.pop("address", ADDR)
    return TcpAttempt(address, family, PORT, state, 0.01, errno_name, "explained", icmp, **kw)


ADMIN = IcmpReport(4, 3, 13, "communication administratively prohibited", "10.0.0.1", "EACCES")
HOST_UNREACH = IcmpReport(4, 3, 1, "host unreachable", "10.0.0.1", "EHOSTUNREACH")
OPEN_ATTEMPT = attempt("open")

TCP_FAILURES = {
    "refused": [attempt("refused", "ECONNREFUSED")],
    "filtered": [attempt("filtered", "TIMEOUT")],
    "admin-prohibited": [attempt("unreachable", "EACCES", ADMIN)],
    "host-unreachable": [attempt("unreachable", "EHOSTUNREACH", HOST_UNREACH)],
    "local-firewall-eperm": [attempt("unreachable", "EPERM")],
    "no-router-named": [attempt("unreachable", "EHOSTUNREACH")],
    "local-error": [attempt("local_error", "EMFILE")],
    "other-error": [attempt("error", "EPROTO")],
    "reset-at-once": [attempt("open", "ECONNRESET", closed_by_peer="reset")],
    "eof-at-once": [attempt("open", closed_by_peer="eof")],
    "drops-some": [attempt("open", repeats=("ok", "reset"))],
    "ipv6-only": [OPEN_ATTEMPT, attempt("filtered", "TIMEOUT", address="fd00::5")],
}


@pytest.mark.parametrize("case", sorted(TCP_FAILURES))
def test_tcp_failures_are_explained(case: str) -> None:
    attempts = TCP_FAILURES[case]
    target = "dual.example:8080" if case == "ipv6-only" else f"{ADDR}:{PORT}"
    assert_explained(target, {"tcp": failed("tcp", TcpData(PORT, tuple(attempts)))})


def stats(sent: int, received: int) -> RttStats:
    rtt = 0.01 if received else None
    loss = 100.0 * (sent - received) / sent
    return RttStats(sent, received, loss, rtt, rtt, rtt, rtt, 0.0 if rtt else None, None)


def ping(**host: Any) -> PingData:
    fields: dict[str, Any] = {"address": ADDR, "family": 4, "mode": "raw-icmp",
                              "stats": stats(10, 0), "recent": ()}  # fmt: skip
    fields |= host
    return PingData("raw-icmp", True, "", 0.2, 84, (PingHost(**fields),))


def hop(ttl: int, status: str, address: str = "", note: str = "") -> Hop:
    responders = (Responder(address, 3),) if address else ()
    received = 3 if address else 0
    return Hop(ttl, status, responders, 3, received, 100.0 * (3 - received) / 3,
               None, None, None, None, None, note)  # fmt: skip


def trace(hops: tuple[Hop, ...], stopped: int, reason: str) -> TraceData:
    return TraceData(ADDR, "icmp", 0, "raw-icmp", True, "", 3, False, stopped, reason, hops)


def mtu(path_mtu: int | None, lost: int | None, blackhole: bool) -> MtuData:
    return MtuData(ADDR, "raw-icmp", True, "", 1500, path_mtu, lost, "", 0, blackhole, 2, (), "x")


PATH_FAILURES: dict[str, tuple[str, Any, str]] = {
    "ping-silent": ("ping", ping(), "TIMEOUT"),
    "ping-unreachable": ("ping", ping(unreachable="10.0.0.1: host unreachable"), "UNREACHABLE"),
    "ping-send-failed": ("ping", ping(errors=10, last_error="EPERM: denied"), "SEND_FAILED"),
    "trace-unreachable": (
        "trace",
        trace(
            (hop(1, "ok", "10.0.0.1"), hop(2, "unreachable", "10.0.1.1", "host unreachable")),
            2,
            "hop 2 (10.0.1.1) answered host unreachable",
        ),
        "NOT_REACHED",
    ),
    "trace-silent": (
        "trace",
        trace((hop(1, "ok", "10.0.0.1"), hop(2, "silent")), 1, "nothing answers beyond hop 1"),
        "NOT_REACHED",
    ),
    "trace-nothing": ("trace", trace((hop(1, "silent"),), 0, "no hop answered"), "NOT_REACHED"),
    "trace-send-failed": ("trace", trace((hop(1, "silent"),), 0, "no hop answered"), "SEND_FAILED"),
    "mtu-no-reply": ("mtu", mtu(None, 576, False), "NO_REPLY"),
    "mtu-blackhole": ("mtu", mtu(1400, 1401, True), "MTU_BLACKHOLE"),
}


@pytest.mark.parametrize("with_tcp_open", [False, True])
@pytest.mark.parametrize("case", sorted(PATH_FAILURES))
def test_path_failures_are_explained(case: str, with_tcp_open: bool) -> None:
    name, data, code = PATH_FAILURES[case]
    results = {name: failed(name, data, code)}
    if with_tcp_open:
        results["tcp"] = ProbeResult("tcp", Status.OK, 0.1, "open", TcpData(PORT, (OPEN_ATTEMPT,)))
    assert_explained(f"{ADDR}:{PORT}", results)


@pytest.mark.parametrize("errno_name", ["ENETUNREACH", "EHOSTUNREACH", "EACCES", "EINVAL"])
def test_route_failures_are_explained(errno_name: str) -> None:
    data = RouteData((RouteInfo(ADDR, False, errno_name=errno_name, explanation="x"),))
    assert_explained(f"{ADDR}:{PORT}", {"route": failed("route", data, errno_name)})


RULE = FirewallRule("nft", "inet", "t", "output", 4, "drop", "tcp dport 8080 drop", ADDR)


@pytest.mark.parametrize("tcp_state", [None, "filtered", "open"])
def test_firewall_failures_are_explained(tcp_state: str | None) -> None:
    results = {"firewall": failed("firewall", FirewallData("nft", PORT, (ADDR,), (RULE,), ()))}
    if tcp_state:
        results["tcp"] = failed("tcp", TcpData(PORT, (attempt(tcp_state),)))
    assert_explained(f"{ADDR}:{PORT}", results)


GAI = ("EAI_NONAME", "EAI_AGAIN", "EAI_FAIL", "EAI_NODATA", "TIMEOUT", "OSError")
RCODES = ((), ("NXDOMAIN",), ("SERVFAIL",), ("REFUSED",), ("TIMEOUT",), ("ERROR",),
          ("NOERROR",), ("NOERROR+",), ("NOERROR", "SERVFAIL"))  # fmt: skip


@pytest.mark.parametrize("rcodes", RCODES)
@pytest.mark.parametrize("gai", GAI)
def test_dns_failures_are_explained(gai: str, rcodes: tuple[str, ...]) -> None:
    answers = tuple(
        ResolverAnswer(
            "10.0.0.53",
            "A",
            "name.example.",
            ("name.example.",),
            rcode.rstrip("+"),
            (ADDR,) if rcode.endswith("+") else (),
        )
        for rcode in rcodes
    )
    system = SystemAnswer((), 0.1, ProbeError(gai, "x"))
    data = DnsData("name.example", ("10.0.0.53",), (), 1, system, (), answers)
    assert_explained("name.example:80", {"dns": failed("dns", data, gai)})


def assert_explained(target: str, results: dict[str, ProbeResult]) -> None:
    diagnosis = diagnose(parse_target(target), results)
    explaining = [f for f in diagnosis.findings if f.severity is not Severity.OK]
    assert explaining, f"no non-ok finding for {results}"
