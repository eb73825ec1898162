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
from probes.proto import http, proxy, service, tls, ws
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
