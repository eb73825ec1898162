"""HTTP probe verdicts against asyncio HTTP servers on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from probes.core.model import Status
from probes.proto.http import HttpData
from tests.probe_helpers import evidence, finding, run
from tests.servers import httpserver as H
from tests.servers.base import ServerThread, close_at_once, http_ok
from tests.servers.services import free_port


@pytest.fixture(scope="module")
def ports() -> Iterator[dict[str, int]]:
    st = ServerThread()
    handlers = {
        "ok": http_ok,
        "401": H.status(401, "Unauthorized", {"WWW-Authenticate": 'Bearer realm="api"'}),
        "403": H.status(403, "Forbidden"),
        "404": H.status(404, "Not Found"),
        "429": H.status(429, "Too Many Requests", {"Retry-After": "120"}),
        "502": H.status(502, "Bad Gateway", {"Server": "nginx/1.25"}),
        "503": H.status(503, "Service Unavailable", {"Retry-After": "30"}),
        "504": H.status(504, "Gateway Timeout", {"Via": "1.1 edge-proxy"}),
        "loop": H.redirect_loop,
        "hang": H.hang,
        "close": close_at_once,
        "drip": H.drip,
        "ssh": H.ssh,
        "close_now": H.close_before_request,
        "rst_now": H.reset_at_once,
        "rst_late": H.reset_after_request,
        "nul_header": H.raw_answer(
            b"HTTP/1.1 200 OK\r\nX-Trace: a\x00b\r\nContent-Length: 0\r\n\r\n"
        ),
        "bad_status": H.raw_answer(b"HTTP/1.1 OK\r\nContent-Length: 0\r\n\r\n"),
        "redirect_refused": H.redirect_to(f"http://127.0.0.1:{free_port()}/gone"),
    }
    yield {name: st.serve(h) for name, h in handlers.items()}
    st.close()


def http_check(port: int, timeout: float = 3.0) -> tuple[HttpData, object, object]:
    the_run, diagnosis = run(f"http://127.0.0.1:{port}/a", ("http",), "auto", timeout=timeout)
    result = the_run.results["http"]
    assert isinstance(result.data, HttpData), result
    return result.data, diagnosis, result


def test_ok_with_timings(ports: dict[str, int]) -> None:
    data, diagnosis, _ = http_check(ports["ok"])
    assert diagnosis.verdict == "ok"  # type: ignore[attr-defined]
    assert data.status == 200 and data.http_version == "HTTP/1.1"
    t = data.timings
    assert t.connect_s is not None and t.ttfb_s is not None and t.total_s is not None
    assert 0 <= t.connect_s <= t.ttfb_s <= t.total_s
    assert t.tls_s is None  # plain HTTP: no TLS phase (absent, not a negative number)
    assert t.kernel_rtt_s is not None and 0 < t.kernel_rtt_s < 0.05  # TCP_INFO, loopback
    lines = evidence(diagnosis, "http.ok").splitlines()  # type: ignore[arg-type]
    line = next(e for e in lines if e.startswith("timings: "))
    # the kernel's round trip leads; the phases by our clock follow, labelled
    assert line.startswith("timings: TCP round trip ") and "(kernel)" in line
    assert "DNS " in line and line.endswith("(our clock)")


@pytest.mark.parametrize(
    ("server", "verdict", "needle"),
    [
        ("401", "http.unauthorized", 'Bearer realm="api"'),
        ("403", "http.forbidden", "403 Forbidden"),
        ("404", "http.client_error", "404 Not Found"),
        ("429", "http.rate_limited", "Retry-After: 120"),
        ("502", "http.bad_gateway", "nginx/1.25"),
        ("503", "http.unavailable", "Retry-After: 30"),
        ("504", "http.gateway_timeout", "edge-proxy"),
        ("loop", "http.redirect_loop", "Location: http://127.0.0.1"),
        ("close", "tcp.reset_after_connect", "closes it after the request"),
        (
            "close_now",
            "tcp.reset_after_connect",
            "before the request",
        ),  # FIN, or RST once our request hits the closed socket
        ("rst_now", "tcp.reset_after_connect", "reset (RST) before the request"),
        ("rst_late", "tcp.reset_after_connect", "resets it after the request"),
        ("nul_header", "http.invalid_response", "NUL byte"),
        ("bad_status", "http.invalid_response", "malformed status line"),
        ("redirect_refused", "http.redirect_broken", "connection refused"),
        ("ssh", "http.not_http", "speaks SSH"),
    ],
)
def test_http_verdicts(ports: dict[str, int], server: str, verdict: str, needle: str) -> None:
    _, diagnosis, _ = http_check(ports[server])
    assert diagnosis.verdict == verdict, [f.id for f in diagnosis.findings]  # type: ignore[attr-defined]
    assert needle in evidence(diagnosis, verdict)  # type: ignore[arg-type]


def test_redirect_chain_is_recorded(ports: dict[str, int]) -> None:
    data, _, _ = http_check(ports["loop"])
    assert data.redirect_loop
    assert [h.status for h in data.hops] == [302, 302]
    assert data.hops[0].location.endswith("/b") and data.hops[1].location.endswith("/a")


@pytest.mark.parametrize(("server", "phase"), [("hang", "headers"), ("drip", "body")])
def test_hang_and_drip_end_at_the_probes_own_deadline(
    ports: dict[str, int], server: str, phase: str
) -> None:
    data, diagnosis, result = http_check(ports[server], timeout=1.5)
    # The probe's own answer (failed with data), not the runner's DEADLINE error.
    assert result.status is Status.FAILED  # type: ignore[attr-defined]
    assert data.state == "timeout" and data.phase == phase
    assert diagnosis.verdict == "http.timeout"  # type: ignore[attr-defined]
    assert finding(diagnosis, "http.timeout").id == "http.timeout"  # type: ignore[arg-type]


def test_custom_header_goes_to_origin_only(ports: dict[str, int]) -> None:
    from probes.core.context import ProbeConfig, ProbeContext
    from probes.core.target import parse_target
    from probes.proto.http import origin_of, request_headers

    target = parse_target("https://u:pw@api.example:8443/x")
    ctx = ProbeContext(target, ProbeConfig(headers=(("api-key", "s3cret-value"),)))
    origin = origin_of("https://api.example:8443/x")
    same = request_headers(ctx, "https://api.example:8443/y", origin)
    other = request_headers(ctx, "https://elsewhere.example/", origin)
    downgraded = request_headers(ctx, "http://api.example:8443/y", origin)
    assert same["api-key"] == "s3cret-value" and same["Authorization"].startswith("Basic ")
    assert "api-key" not in other and "Authorization" not in other
    assert "api-key" not in downgraded


def test_http_empty_reply_is_gone() -> None:
    from probes.diagnosis.ranking import CAUSAL_ORDER

    assert "http.empty_reply" not in CAUSAL_ORDER


def test_a_server_that_resets_every_other_connection_is_not_ok() -> None:
    st = ServerThread()
    try:
        port = st.serve(H.every_other_reset())
        # The probe's request is connection 0, which is reset; the follow-up
        # connection that looks again is a good one and must not hide it.
        the_run, diagnosis = run(f"http://127.0.0.1:{port}/", ("http",), "intermittent")
    finally:
        st.close()
    data = the_run.results["http"].data
    assert isinstance(data, HttpData) and data.state == "reset"
    assert diagnosis.verdict == "tcp.reset_after_connect"
    assert "reset (RST)" in evidence(diagnosis, "tcp.reset_after_connect")


def test_slow_first_byte_is_a_warning_with_both_numbers() -> None:
    st = ServerThread()
    try:
        port = st.serve(H.slow_first_byte(3.5))
        the_run, diagnosis = run(f"http://127.0.0.1:{port}/", ("tcp", "http"), "slow", timeout=5.0)
    finally:
        st.close()
    assert diagnosis.verdict == "http.slow_response", [f.id for f in diagnosis.findings]
    text = evidence(diagnosis, "http.slow_response")
    assert "server think time" in text and "network round trip" in text
    data = the_run.results["http"].data
    assert isinstance(data, HttpData)
    assert data.timings.think_s is not None and data.timings.think_s >= 3.0


def test_fast_server_is_not_slow(ports: dict[str, int]) -> None:
    _, diagnosis, _ = http_check(ports["ok"])
    assert all(f.id != "http.slow_response" for f in diagnosis.findings)  # type: ignore[attr-defined]
