"""Silence read as failure (issue 22), rule by rule: ICMP that never comes back, or an
ICMP error about ping/trace packets, is a note when the service's connections work."""

from __future__ import annotations

from probes.core.model import ProbeError, ProbeResult, Severity, Status
from probes.core.target import parse_target
from probes.diagnosis import diagnose
from probes.net.tcp import TcpData
from probes.path.mtu import MtuData
from probes.proto.sampler import Attempt, Percentiles, SamplerData
from tests.test_failure_findings import ADDR, OPEN_ATTEMPT, PORT, failed, ping, stats

TARGET = parse_target(f"{ADDR}:{PORT}")
FAULTS = (Severity.ERROR, Severity.WARNING)


def _sampled_ok(n: int = 10) -> ProbeResult:
    recent = tuple(Attempt("ok", 0.001, None) for _ in range(n))
    none = Percentiles(None, None, None)
    data = SamplerData(ADDR, PORT, "tcp", 1.0, n, 0, (("ok", n),), recent, none, none)
    return ProbeResult("connections", Status.OK, float(n), f"{n}/{n} ok", data)


def _mtu_silent() -> ProbeResult:
    text = f"no echo reply from {ADDR} even for small packets: cannot measure the path MTU"
    data = MtuData(ADDR, "raw", True, "", 1500, None, None, "", 0, False, 1, (), text)
    return ProbeResult("mtu", Status.FAILED, 1.0, text, data, ProbeError("NO_REPLY", text))


def _faults(results: dict[str, ProbeResult]) -> list[str]:
    return [f.id for f in diagnose(TARGET, results).findings if f.severity in FAULTS]


def test_unanswered_pings_while_sampled_connections_succeed_are_no_host_down() -> None:
    results = {"ping": failed("ping", ping(), "TIMEOUT"), "connections": _sampled_ok()}
    assert _faults(results) == []
    ids = {f.id: f for f in diagnose(TARGET, results).findings}
    assert "sampled connections" in ids["path.icmp_limited"].title


def test_an_icmp_error_about_pings_is_not_unreachable_when_connections_succeed() -> None:
    pinged = ping(unreachable="10.0.0.1: host unreachable", stats=stats(10, 0))
    results = {"ping": failed("ping", pinged, "UNREACHABLE"), "connections": _sampled_ok()}
    diagnosis = diagnose(TARGET, results)
    unreachable = next(f for f in diagnosis.findings if f.id == "path.unreachable")
    assert unreachable.severity is Severity.INFO
    assert _faults(results) == []


def test_an_mtu_probe_that_heard_nothing_is_explained_by_the_note() -> None:
    tcp = ProbeResult("tcp", Status.OK, 0.01, "open", TcpData(PORT, (OPEN_ATTEMPT,)))
    results = {"tcp": tcp, "ping": failed("ping", ping(), "TIMEOUT"), "mtu": _mtu_silent()}
    diagnosis = diagnose(TARGET, results)
    assert _faults(results) == [] and diagnosis.verdict == "ok"
    note = next(f for f in diagnosis.findings if f.id == "path.icmp_limited")
    assert "path MTU" in note.title and "pings" in note.title
