"""STARTTLS (SMTP, PostgreSQL without SSL), HTTPS timing phases, and pure helpers."""

from __future__ import annotations

import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from probes.core.target import parse_target
from probes.proto.certs import wildcard_match
from probes.proto.http import HttpData
from probes.proto.proxy import no_proxy_match, select_proxy
from probes.proto.tls import TlsData
from tests.probe_helpers import ROOT, evidence, run
from tests.servers.base import ServerThread
from tests.servers.pki import Pki
from tests.servers.starttls import postgres_without_ssl, smtp
from tests.servers.tlsserver import TlsServer


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return Pki(Path(tmp_path_factory.mktemp("extras-pki")))


@pytest.fixture(scope="module")
def ports(pki: Pki) -> Iterator[dict[str, int]]:
    st = ServerThread()
    ctx = pki.server_context(pki.leaf())
    out = {
        "smtp": st.serve(smtp(ctx)),
        "smtp_plain": st.serve(smtp(ctx, offer_starttls=False)),
        "pg_no_ssl": st.serve(postgres_without_ssl),
    }
    yield out
    st.close()


def test_smtp_starttls_certificate(pki: Pki, ports: dict[str, int]) -> None:
    the_run, diagnosis = run(
        f"smtp://127.0.0.1:{ports['smtp']}", ("tls",), "tls", ca_file=str(pki.ca_file)
    )
    assert diagnosis.verdict == "ok", [f.id for f in diagnosis.findings]
    data = the_run.results["tls"].data
    assert isinstance(data, TlsData) and data.starttls == "smtp" and data.verified
    assert "STARTTLS (smtp)" in evidence(diagnosis, "tls.ok")


def test_smtp_without_starttls(pki: Pki, ports: dict[str, int]) -> None:
    _, diagnosis = run(f"smtp://127.0.0.1:{ports['smtp_plain']}", ("tls",), "tls")
    assert diagnosis.verdict == "tls.starttls_refused"
    assert "does not offer STARTTLS" in evidence(diagnosis, "tls.starttls_refused")


def test_postgres_with_ssl_off(ports: dict[str, int]) -> None:
    _, diagnosis = run(f"postgres://127.0.0.1:{ports['pg_no_ssl']}", ("tls",), "tls")
    assert diagnosis.verdict == "tls.starttls_refused"
    assert "answered 'N' to SSLRequest" in evidence(diagnosis, "tls.starttls_refused")


def test_https_timings_include_tls(pki: Pki) -> None:
    server = TlsServer(pki.server_context(pki.leaf()))
    try:
        the_run, diagnosis = run(
            f"https://127.0.0.1:{server.port}/", ("http",), "slow", ca_file=str(pki.ca_file)
        )
    finally:
        server.close()
    assert diagnosis.verdict == "ok"
    data = the_run.results["http"].data
    assert isinstance(data, HttpData) and data.status == 200
    t = data.timings
    assert None not in (t.connect_s, t.tls_s, t.ttfb_s, t.total_s)
    assert 0 <= t.connect_s <= t.tls_s <= t.ttfb_s <= t.total_s  # type: ignore[operator]


def test_http2_where_offered(pki: Pki) -> None:
    from tests.servers.tlsserver import h2_context

    server = TlsServer(h2_context(pki.server_context(pki.leaf())))
    try:
        the_run, diagnosis = run(
            f"https://127.0.0.1:{server.port}/", ("tls", "http"), "slow", ca_file=str(pki.ca_file)
        )
    finally:
        server.close()
    assert diagnosis.verdict == "ok"
    http = the_run.results["http"].data
    tls = the_run.results["tls"].data
    assert isinstance(http, HttpData) and http.http_version == "HTTP/2" and http.status == 200
    assert isinstance(tls, TlsData) and tls.alpn == "h2"


def test_https_with_untrusted_cert_sends_no_request(pki: Pki) -> None:
    server = TlsServer(pki.self_signed_context())
    try:
        the_run, diagnosis = run(f"https://127.0.0.1:{server.port}/", ("http",), "auth")
    finally:
        server.close()
    data = the_run.results["http"].data
    assert isinstance(data, HttpData) and data.state == "tls_error" and not data.hops
    # No TLS probe in the plan: the HTTP rules still refuse to call it "ok".
    assert diagnosis.verdict == "tls.handshake_failed"


@pytest.mark.parametrize(
    ("pattern", "host", "ok"),
    [
        ("*.example.com", "api.example.com", True),
        ("*.example.com", "a.b.example.com", False),
        ("*.example.com", "example.com", False),
        ("api.example.com", "api.example.com", True),
    ],
)
def test_wildcard_covers_one_label(pattern: str, host: str, ok: bool) -> None:
    assert wildcard_match(pattern, host) is ok


@pytest.mark.parametrize(
    ("target", "no_proxy", "match"),
    [
        ("http://api.corp.example/", ".corp.example", ".corp.example"),
        ("http://api.corp.example/", "corp.example", "corp.example"),
        ("http://notcorp.example/", "corp.example", ""),
        ("http://10.1.2.3/", "10.0.0.0/8", "10.0.0.0/8"),
        ("http://x.example:8080/", "x.example:9090", ""),
        ("http://x.example/", "*", "*"),
    ],
)
def test_no_proxy_matching(target: str, no_proxy: str, match: str) -> None:
    assert no_proxy_match(parse_target(target), {"NO_PROXY": no_proxy}) == match


def test_lowercase_proxy_variable_wins() -> None:
    env = {"HTTPS_PROXY": "http://upper:1", "https_proxy": "http://lower:1"}
    assert select_proxy(parse_target("https://x.example/"), env) == (
        "https_proxy",
        "http://lower:1",
    )
    assert select_proxy(parse_target("postgres://db.example/"), env) == ("", "")


def test_probes_never_import_the_faces() -> None:
    code = (
        "import sys, importlib\n"
        "for m in ('probes.proto.tls','probes.proto.http','probes.proto.proxy','probes.proto.ws','probes.proto.cors',"
        "'probes.proto.service','probes.core.options','probes.diagnosis'):\n"
        "    importlib.import_module(m)\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('textual','rich','tui')]\n"
        "lazy = [m for m in ('httpx', 'cryptography') if m in sys.modules]\n"
        "print(bad, lazy)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert done.stdout.strip() == "[] []"


def test_certificate_names_cannot_carry_terminal_escapes(pki: Pki) -> None:
    from probes.proto.certs import parse_der

    evil = pki.leaf("127.0.0.1", common_name="evil\x1b[2J\x1b]0;pwned\x07name")
    der = ssl.PEM_cert_to_DER_cert(evil.cert_chain_pems[0].bytes().decode())
    info = parse_der(der)
    assert info is not None
    assert "\x1b" not in info.subject and "\x07" not in info.subject
    assert "\\x1b" in info.subject and "evil" in info.common_name


def test_wss_upgrade_over_verified_tls(pki: Pki) -> None:
    from probes.proto.ws import WsData

    server = TlsServer(pki.server_context(pki.leaf()))
    try:
        the_run, diagnosis = run(
            f"wss://127.0.0.1:{server.port}/live",
            ("tls", "ws"),
            "websocket",
            ca_file=str(pki.ca_file),
        )
    finally:
        server.close()
    assert diagnosis.verdict == "ok", [f.id for f in diagnosis.findings]
    data = the_run.results["ws"].data
    assert isinstance(data, WsData) and data.state == "ok" and data.url.startswith("wss://")
