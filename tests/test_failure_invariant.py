"""Every way a protocol probe can end FAILED yields a finding that explains it.

Walks the failure states the probes' data classes define (HTTP states, proxy
states, TLS states and failure classes, service states, WebSocket and CORS
states) and asserts that the rules, given that result alone, name an error or
warning: a failed probe never leaves the verdict at "ok".
"""

from __future__ import annotations

import pytest

from probes.core.model import ProbeError, ProbeResult, Severity, Status
from probes.core.target import parse_target
from probes.diagnosis import diagnose
from probes.path.pathstats import RttStats
from probes.path.ping import PingData, PingHost
from probes.proto import http, proxy, sampler, service, tls, ws
from probes.proto.certs import CertInfo
from probes.proto.cors import CorsData
from probes.proto.http import HttpData, HttpHop
from probes.proto.proxy import ProxyData
from probes.proto.service import ServiceData
from probes.proto.tls import TlsData
from probes.proto.ws import WsData

LEAF = CertInfo(
    subject="CN=x",
    issuer="CN=Some CA",
    common_name="x",
    sans=("DNS:x",),
    not_before="2020-01-01T00:00:00+00:00",
    not_after="2021-01-01T00:00:00+00:00",
    days_left=-1000,
    public_key="EC secp256r1",
    signature_algorithm="ecdsa-with-SHA256",
    sha256="AA",
    is_ca=False,
    self_issued=True,
)


def failed(probe: str, data: object) -> ProbeResult:
    state = getattr(data, "state", "failed")
    return ProbeResult(probe, Status.FAILED, 0.1, f"{state}", data, ProbeError(state.upper(), ""))


def assert_explained(target: str, result: ProbeResult) -> None:
    diagnosis = diagnose(parse_target(target), {result.probe: result})
    bad = [f for f in diagnosis.findings if f.severity in (Severity.ERROR, Severity.WARNING)]
    assert bad, (
        f"{result.probe} {result.summary}: no finding in {[f.id for f in diagnosis.findings]}"
    )
    assert diagnosis.verdict != "ok"


HTTP_DETAILS = {
    http.CONNECT_ERROR: "connection refused: nothing listens there",
    http.TLS_ERROR: "[SSL: CERTIFICATE_VERIFY_FAILED]",
}


@pytest.mark.parametrize("state", http.FAILURE_STATES)
@pytest.mark.parametrize("redirected", [False, True])
def test_every_http_failure_state_has_a_finding(state: str, redirected: bool) -> None:
    hops = (
        (HttpHop("http://x.test/", 302, "Found", "HTTP/1.1", "http://y.test/"),)
        if redirected
        else ()
    )
    data = HttpData(
        "http://x.test/",
        "GET",
        state,
        hops=hops,
        phase="headers",
        detail=HTTP_DETAILS.get(state, "something broke"),
        proxy="http://proxy.test:3128" if state.startswith("proxy_") else "",
        proxy_variable="http_proxy" if state.startswith("proxy_") else "",
    )
    assert_explained("http://x.test/", failed("http", data))


@pytest.mark.parametrize("phase", ["connect", "headers", "body", "tls"])
def test_http_timeouts_in_every_phase_have_a_finding(phase: str) -> None:
    data = HttpData("http://x.test/", "GET", http.TIMEOUT, phase=phase, detail="timed out")
    assert_explained("http://x.test/", failed("http", data))


@pytest.mark.parametrize("code", [400, 401, 403, 404, 407, 418, 429, 500, 502, 503, 504, 599])
def test_every_http_error_status_has_a_finding(code: int) -> None:
    data = HttpData("http://x.test/", "GET", http.OK, status=code, reason="X")
    assert_explained("http://x.test/", failed("http", data))


def test_a_redirect_loop_has_a_finding() -> None:
    data = HttpData("http://x.test/", "GET", http.OK, status=302, redirect_loop=True)
    assert_explained("http://x.test/", failed("http", data))


@pytest.mark.parametrize(
    "state", [proxy.AUTH_REQUIRED, proxy.UNREACHABLE, proxy.UPSTREAM_FAILED, proxy.FAILED]
)
def test_every_proxy_failure_state_has_a_finding(state: str) -> None:
    data = ProxyData(
        (("http_proxy", "http://p.test:3128"),),
        True,
        "http_proxy",
        "http://p.test:3128",
        state=state,
        detail="x",
        method="GET",
    )
    assert_explained("http://x.test/", failed("proxy", data))


TLS_FAILURES = (
    "tls.expired",
    "tls.not_yet_valid",
    "tls.hostname_mismatch",
    "tls.self_signed",
    "tls.untrusted_root",
    "tls.incomplete_chain",
    "tls.protocol_mismatch",
    "tls.no_shared_cipher",
    "tls.client_cert_required",
    "tls.not_tls",
    "tls.handshake_timeout",
    "tls.handshake_failed",
    "tls.starttls_refused",
    "proxy.tls_intercepted",
    "proxy.unreachable",
    "proxy.auth_required",
    "proxy.upstream_failed",
    "proxy.failed",
)


@pytest.mark.parametrize("failure", TLS_FAILURES)
@pytest.mark.parametrize("with_chain", [True, False])
@pytest.mark.parametrize("target", ["https://x.test/", "postgres://x.test/?sslmode=verify-full"])
def test_every_tls_failure_class_has_a_finding(failure: str, with_chain: bool, target: str) -> None:
    data = TlsData(
        "192.0.2.1",
        443,
        "x.test",
        "postgres" if target.startswith("postgres") else "",
        tls.TIMEOUT if failure == "tls.handshake_timeout" else tls.FAILED,
        failure=failure,
        detail="x",
        chain=(LEAF,) if with_chain else (),
        proxy="http://p.test:3128" if failure.startswith("proxy.") else "",
        sslmode="verify-full" if target.startswith("postgres") else "",
    )
    assert_explained(target, failed("tls", data))


@pytest.mark.parametrize("detail", ["ECONNREFUSED: Connection refused", "timed out"])
def test_tls_unreachable_has_a_finding(detail: str) -> None:
    data = TlsData("192.0.2.1", 443, "x.test", "", tls.UNREACHABLE, detail=detail)
    assert_explained("https://x.test/", failed("tls", data))


SERVICE_STATES = (
    service.AUTH_REQUIRED,
    service.AUTH_FAILED,
    service.WRONG_PROTOCOL,
    service.TOO_MANY,
    service.UNAVAILABLE,
    service.FAILED,
    service.TIMEOUT,
)


@pytest.mark.parametrize("state", SERVICE_STATES)
@pytest.mark.parametrize("kind", ["redis", "postgres"])
@pytest.mark.parametrize(
    "detail",
    ["ConnectionRefusedError: refused", "ConnectionResetError: reset", "PING answered -ERR x", ""],
)
def test_every_service_state_has_a_finding(state: str, kind: str, detail: str) -> None:
    data = ServiceData(kind, "192.0.2.1", 6379, state, detail=detail)
    assert_explained(f"{kind}://x.test", failed("service", data))


@pytest.mark.parametrize("state", [ws.REJECTED, ws.BAD_ACCEPT, ws.TIMEOUT, ws.FAILED])
@pytest.mark.parametrize(
    "detail",
    [
        "no answer to the upgrade request before the deadline",
        "the server closed the connection without answering (b'')",
        "ConnectionRefusedError: refused",
        "SSLCertVerificationError: certificate verify failed",
        "not HTTP: 'SSH-2.0'",
    ],
)
def test_every_websocket_state_has_a_finding(state: str, detail: str) -> None:
    data = WsData("ws://x.test/", state, status=400 if state == ws.REJECTED else 0, detail=detail)
    assert_explained("ws://x.test/", failed("ws", data))


@pytest.mark.parametrize("state", ["rejected", "failed"])
def test_every_cors_state_has_a_finding(state: str) -> None:
    data = CorsData(
        url="http://x.test/",
        origin="https://app.test",
        origin_given=True,
        method="GET",
        request_headers=(),
        state=state,
        detail="ConnectError: refused",
        problems=("Access-Control-Allow-Origin is missing",) if state == "rejected" else (),
    )
    assert_explained("http://x.test/", failed("cors", data))


# The connection sampler: each way an attempt can fail, and the finding it stands for.
SAMPLER_FAILURES = {
    ("tcp", "refused", "ECONNREFUSED", False): "tcp.refused",
    ("tcp", "timeout", "TimeoutError", False): "tcp.filtered",
    ("tcp", "reset", "ECONNRESET", True): "tcp.reset_after_connect",
    ("tcp", "error", "EHOSTUNREACH", False): "tcp.connect_error",
    ("http", "error", "TLS: certificate has expired", False): "tls.handshake_failed",
    ("http", "timeout", "TimeoutError", True): "http.timeout",
    ("http", "service error", "not HTTP: 'SSH-2.0-OpenSSH'", True): "http.not_http",
    ("http", "status 401", "HTTP/1.1 401 Unauthorized", True): "http.unauthorized",
    ("http", "status 403", "HTTP/1.1 403 Forbidden", True): "http.forbidden",
    ("http", "status 404", "HTTP/1.1 404 Not Found", True): "http.client_error",
    ("http", "status 429", "HTTP/1.1 429 Too Many Requests", True): "http.rate_limited",
    ("http", "status 500", "HTTP/1.1 500 Internal Server Error", True): "http.server_error",
    ("http", "status 502", "HTTP/1.1 502 Bad Gateway", True): "http.bad_gateway",
    ("http", "status 503", "HTTP/1.1 503 Service Unavailable", True): "http.unavailable",
    ("http", "status 504", "HTTP/1.1 504 Gateway Timeout", True): "http.gateway_timeout",
    ("redis", "service error", "-ERR max number of clients reached", True): (
        "service.too_many_connections"
    ),
    ("redis", "service error", "-LOADING Redis is loading", True): "service.unavailable",
    ("redis", "timeout", "TimeoutError", True): "service.unavailable",
}


def sampled(speaks: str, attempts: tuple[sampler.Attempt, ...], window: int = 0) -> ProbeResult:
    """The sampler's final result over *attempts* (as the probe summarises them)."""
    kinds: dict[str, int] = {}
    for a in attempts:
        kinds[a.outcome] = kinds.get(a.outcome, 0) + 1
    none = sampler.percentiles([])
    data = sampler.SamplerData(
        "192.0.2.1", 6379 if speaks == "redis" else 80, speaks, 1.0, len(attempts),
        sum(a.outcome != sampler.OK for a in attempts),
        tuple(sorted(kinds.items(), key=lambda kv: -kv[1])), attempts, none, none, window,
    )  # fmt: skip
    every = data.failed == data.sent
    status = Status.FAILED if every else Status.OK
    error = ProbeError(attempts[0].outcome.upper(), "every connection failed") if every else None
    return ProbeResult("connections", status, 1.0, data.status_line(), data, error)


def _attempt(outcome: str, detail: str, connected: bool) -> sampler.Attempt:
    return sampler.Attempt(outcome, 0.001 if connected else None, None, detail)


TARGETS = {"tcp": "192.0.2.1:80", "http": "http://192.0.2.1/", "redis": "redis://192.0.2.1"}


@pytest.mark.parametrize("window", [0, 60])  # headless, live
@pytest.mark.parametrize("share", [1, 3, 10])  # of every 10 attempts
@pytest.mark.parametrize("case", sorted(SAMPLER_FAILURES), ids=lambda c: f"{c[0]}-{c[1]}")
def test_every_sampler_failure_has_its_finding(
    case: tuple[str, str, str, bool], share: int, window: int
) -> None:
    """A sampler that saw a failure kind in 30% or 100% of its window never reads ok; one
    failure in 20 is noise (a finding needs two, and 5% of the window), and a failed
    sampler (every attempt failed) is explained by its own finding, never
    probe.unexplained."""
    speaks, outcome, detail, connected = case
    bad = _attempt(outcome, detail, connected)
    good = sampler.Attempt(sampler.OK, 0.001, 0.002 if speaks != "tcp" else None)
    attempts = tuple(bad if i % 10 < share else good for i in range(20))
    if share == 1:
        attempts = (bad, *attempts[1:10], good, *attempts[11:])  # one failure in 20
    result = sampled(speaks, attempts, window)
    diagnosis = diagnose(parse_target(TARGETS[speaks]), {"connections": result})
    found = {f.id: f for f in diagnosis.findings}
    expected = SAMPLER_FAILURES[case]
    assert "probe.unexplained" not in found
    if share == 1:
        assert diagnosis.verdict == "ok" and not found
        return
    assert diagnosis.verdict == expected, diagnosis
    finding = found[expected]
    if share == 10 and expected != "http.client_error":
        assert finding.severity is Severity.ERROR
    elif share == 3:
        assert finding.severity is Severity.WARNING and "(intermittent)" in finding.title
        assert "6 of" in finding.evidence[0] and "(30%)" in finding.evidence[0]
    if outcome != "timeout":  # a timeout's detail is the exception's name, not shown
        assert any(detail in line for line in finding.evidence)
    assert finding.next_steps and any(s.command for s in finding.next_steps)


def test_a_sampler_with_mixed_failures_and_no_success_is_explained() -> None:
    """Every attempt failed, in six ways: each way speaks, the leading one is the verdict,
    and all are errors but the 4xx (a client error is a warning at most)."""
    kinds = ("refused", "timeout", "reset", "error", "status 503", "status 404")
    attempts = tuple(_attempt(kinds[i % 6], "x", False) for i in range(6 * 5 + 1))
    result = sampled("http", attempts)
    diagnosis = diagnose(parse_target("http://192.0.2.1/"), {"connections": result})
    assert diagnosis.verdict == "tcp.refused"
    assert all(
        f.severity is Severity.ERROR for f in diagnosis.findings if f.id != "http.client_error"
    )
    assert "probe.unexplained" not in {f.id for f in diagnosis.findings}


@pytest.mark.parametrize("sent", [1, 2])
def test_a_sampler_failed_from_its_first_attempt_is_explained(sent: int) -> None:
    attempts = tuple(_attempt("refused", "ECONNREFUSED", False) for _ in range(sent))
    diagnosis = diagnose(parse_target("192.0.2.1:80"), {"connections": sampled("tcp", attempts)})
    assert diagnosis.verdict == "tcp.refused"


@pytest.mark.parametrize(("ping_loss", "expected"), [(0, "tcp.filtered"), (20, "path.loss")])
def test_unanswered_syns_as_many_as_the_path_loses_are_a_note_beside_path_loss(
    ping_loss: int, expected: str
) -> None:
    """Loss on the path drops SYNs too: the sampler's timeouts are then no verdict of their
    own (info), and path.loss speaks; without loss they are tcp.filtered."""
    bad = _attempt("timeout", "TimeoutError", False)
    good = sampler.Attempt(sampler.OK, 0.001, None)
    attempts = tuple(bad if i % 10 < 3 else good for i in range(20))
    stats = RttStats(20, 20 - ping_loss // 5, ping_loss, 0.01, 0.01, 0.01, 0.01, 0.0, 0.0)
    host = PingHost("192.0.2.1", 4, "raw-icmp", stats, ())
    ping = ProbeResult(
        "ping", Status.OK, 1.0, "x", PingData("raw-icmp", True, "", 0.2, 84, (host,))
    )
    results = {"connections": sampled("tcp", attempts, 60), "ping": ping}
    diagnosis = diagnose(parse_target("192.0.2.1:80"), results)
    assert diagnosis.verdict == expected
    filtered = next(f for f in diagnosis.findings if f.id == "tcp.filtered")
    if ping_loss:
        assert filtered.severity is Severity.INFO and "packet loss" in filtered.title
        assert "ping loses 20% to 192.0.2.1" in filtered.evidence[-1]
    else:
        assert filtered.severity is Severity.WARNING


@pytest.mark.parametrize(("standing", "up"), [(False, False), (True, True)])
def test_a_raised_sampler_finding_stays_up_down_to_half_its_threshold(
    standing: bool, up: bool
) -> None:
    """Live hysteresis: 2 refused in 60 (3%) raise nothing, but keep a raised tcp.refused
    up (random failures around 5% must not raise and clear it every round)."""
    bad = _attempt("refused", "ECONNREFUSED", False)
    good = sampler.Attempt(sampler.OK, 0.001, None)
    attempts = tuple(bad if i in (10, 40) else good for i in range(60))
    before = {"tcp.refused": Severity.WARNING} if standing else {}
    diagnosis = diagnose(
        parse_target("192.0.2.1:80"), {"connections": sampled("tcp", attempts, 60)}, standing=before
    )
    assert (diagnosis.verdict == "tcp.refused") is up
