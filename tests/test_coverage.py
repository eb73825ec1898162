"""`ok` is a promise (issue 13): the invariants of probes.diagnosis.coverage.

Every probe kind, ending failed or in error with evidence no rule reads, leaves a
finding and a verdict that is not ``ok``; a run with probes still pending is
``incomplete``; a settled verdict is one no pending probe can outrank.
"""

from __future__ import annotations

import pytest

from probes.core.model import Diagnosis, Finding, ProbeError, ProbeResult, Severity, Status
from probes.core.target import parse_target
from probes.diagnosis import diagnose
from probes.diagnosis.coverage import FINDS, INCOMPLETE, UNEXPLAINED, verdict_settled
from probes.diagnosis.ranking import CAUSAL_ORDER
from probes.diagnosis.sampler_rules import finding_id
from probes.net.tcp import OPEN, REFUSED, TcpAttempt, TcpData
from probes.proto.http import HttpData
from probes.proto.sampler import Attempt
from probes.run.plans import PROBES

TARGET = parse_target("db.internal:5432")


def failed(probe: str, status: Status = Status.FAILED, code: str = "EWHATEVER") -> ProbeResult:
    return ProbeResult(
        probe, status, 0.1, f"{probe} went wrong", error=ProbeError(code, "something broke")
    )


@pytest.mark.parametrize("probe", sorted(PROBES))
def test_a_failed_probe_never_leaves_an_ok_verdict(probe: str) -> None:
    diagnosis = diagnose(TARGET, {probe: failed(probe)})
    assert diagnosis.verdict != "ok"
    assert any(f.severity is Severity.ERROR for f in diagnosis.findings)
    unexplained = [f for f in diagnosis.findings if f.id == UNEXPLAINED]
    assert unexplained and probe in unexplained[0].title
    assert any("something broke" in line for line in unexplained[0].evidence)


@pytest.mark.parametrize("code", ["DEADLINE", "NO_RESULT", "RuntimeError"])
@pytest.mark.parametrize("probe", sorted(PROBES))
def test_a_probe_that_could_not_finish_makes_the_run_incomplete(probe: str, code: str) -> None:
    diagnosis = diagnose(TARGET, {probe: failed(probe, Status.ERROR, code)})
    assert diagnosis.verdict == "incomplete"
    finding = next(f for f in diagnosis.findings if f.id == INCOMPLETE)
    assert finding.severity is Severity.WARNING and probe in finding.title


def test_pending_probes_make_an_all_clear_incomplete() -> None:
    ok = ProbeResult("route", Status.OK, 0.01, "fine")
    assert diagnose(TARGET, {"route": ok}).verdict == "ok"
    assert diagnose(TARGET, {"route": ok}, pending=["tcp"]).verdict == "incomplete"


def test_a_lower_layer_problem_explains_an_upper_layer_failure() -> None:
    """A TLS handshake that fails because nothing listens needs no finding of its own."""
    tcp = ProbeResult(
        "tcp",
        Status.FAILED,
        0.01,
        "refused",
        TcpData(5432, (TcpAttempt("10.0.0.5", 4, 5432, REFUSED, 0.001, "ECONNREFUSED"),)),
    )
    diagnosis = diagnose(TARGET, {"tcp": tcp, "tls": failed("tls")})
    assert diagnosis.verdict == "tcp.refused"
    assert UNEXPLAINED not in {f.id for f in diagnosis.findings}


def test_every_registered_probe_says_what_it_can_find() -> None:
    assert set(PROBES) <= set(FINDS) | {"firewall"}


def _tcp(state: str) -> dict[str, ProbeResult]:
    status = Status.OK if state == OPEN else Status.FAILED
    data = TcpData(5432, (TcpAttempt("10.0.0.5", 4, 5432, state, 0.001),))
    return {"tcp": ProbeResult("tcp", status, 0.01, state, data)}


def test_a_reset_from_the_target_settles_refused_against_path_probes() -> None:
    results = _tcp(REFUSED)
    diagnosis = diagnose(TARGET, results)
    assert diagnosis.verdict == "tcp.refused"
    assert verdict_settled(diagnosis, results, ["ping", "trace", "mtu"])
    assert not verdict_settled(diagnosis, results, ["local"])  # local.not_listening outranks
    assert not verdict_settled(diagnosis, results, ["dns"])


def test_a_verdict_keeps_the_probes_its_evidence_reads() -> None:
    """path.blocked_from_here puts this host's trace beside the vantage's: settling must
    not cut the trace (it did on a loaded machine, and the evidence lost the path here)."""
    blocked = Finding("path.blocked_from_here", Severity.ERROR, "filtered from here", (), ())
    diagnosis = Diagnosis((blocked,), "path.blocked_from_here")
    results = _tcp("filtered")
    assert not verdict_settled(diagnosis, results, ["trace"])
    assert not verdict_settled(diagnosis, results, ["ping", "mtu"])
    assert verdict_settled(diagnosis, results, ["mtu"])


def test_ok_and_warnings_are_never_settled_early() -> None:
    results = _tcp(OPEN)
    diagnosis = diagnose(TARGET, results)
    assert not verdict_settled(diagnosis, results, ["ping"])


def test_the_sampler_says_what_its_rules_find() -> None:
    """Every finding a sampled failure stands for is one FINDS["connections"] names (so
    a failed sampler is explained, and a pending one can outrank a verdict) and a ranked id."""
    outcomes = ["refused", "reset", "timeout", "error", "service error", "status 401",
                "status 403", "status 404", "status 429", "status 500", "status 502",
                "status 503", "status 504", "status 599"]  # fmt: skip
    seen = set()
    for speaks in ("tcp", "http", "redis"):
        for outcome in outcomes:
            for connect_s in (None, 0.001):
                for detail in ("x", "TLS: x", "-ERR max number of clients reached"):
                    fid = finding_id(Attempt(outcome, connect_s, None, detail), speaks)
                    assert fid is not None
                    seen.add(fid)
    assert seen == set(FINDS["connections"])
    assert seen <= set(CAUSAL_ORDER)
    assert finding_id(Attempt("ok", 0.001, None), "http") is None


def test_a_pending_sampler_can_still_outrank_an_http_status() -> None:
    """An HTTP 503 does not settle the verdict while the sampler may yet see refusals."""
    data = HttpData("http://x.test/", "GET", "ok", status=503, reason="Service Unavailable")
    results = {"http": ProbeResult("http", Status.FAILED, 0.1, "503", data)}
    diagnosis = diagnose(parse_target("http://x.test/"), results)
    assert diagnosis.verdict == "http.unavailable"
    assert not verdict_settled(diagnosis, results, ["connections"])
