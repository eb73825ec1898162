"""TLS tells every problem, sees interception through the proxy, and knows plaintext at once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from probes.core.model import Severity
from probes.proto.http import HttpData
from probes.proto.tls import TlsData
from tests.probe_helpers import evidence, finding, run
from tests.servers import httpserver as H
from tests.servers.base import ServerThread
from tests.servers.pki import DAY, NOW, Pki
from tests.servers.proxyserver import forward_proxy, intercepting_proxy
from tests.servers.tlsserver import TlsServer


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return Pki(Path(tmp_path_factory.mktemp("truth-pki")))


@pytest.fixture(scope="module")
def inspection_ca() -> trustme.CA:
    # A name no list of known interceptors holds: only the comparison can tell.
    return trustme.CA(organization_name="Corp Outbound Inspection")


@pytest.fixture(scope="module")
def ports(pki: Pki, inspection_ca: trustme.CA) -> Iterator[dict[str, int]]:
    st = ServerThread()
    good = TlsServer(pki.server_context(pki.leaf()))
    bad = TlsServer(
        pki.self_signed_context(
            "old.example", NOW - 400 * DAY, NOW - 10 * DAY, names=("old.example",)
        )
    )
    mitm_ctx = pki.server_context(inspection_ca.issue_cert("127.0.0.1", "localhost"))
    out = {
        "good": good.port,
        "bad": bad.port,
        "plain_waits": st.serve(
            H.status(200, "OK")
        ),  # reads until a blank line: ClientHello has none
        "proxy": st.serve(forward_proxy()),
        "mitm": st.serve(intercepting_proxy(mitm_ctx)),
    }
    yield out
    good.close()
    bad.close()
    st.close()


def test_every_problem_of_a_self_signed_certificate_is_reported(
    pki: Pki, ports: dict[str, int]
) -> None:
    the_run, diagnosis = run(
        f"https://127.0.0.1:{ports['bad']}/", ("tls",), "tls", ca_file=str(pki.ca_file)
    )
    data = the_run.results["tls"].data
    assert isinstance(data, TlsData)
    assert set(data.problems) == {"tls.self_signed", "tls.expired", "tls.hostname_mismatch"}
    ids = {f.id for f in diagnosis.findings}
    assert {"tls.self_signed", "tls.expired", "tls.hostname_mismatch"} <= ids
    # The name is the most actionable: this certificate is not for this host at all.
    assert diagnosis.verdict == "tls.hostname_mismatch"
    text = evidence(diagnosis, "tls.expired")
    assert (
        "every problem of this certificate: self-signed, expired, issued for another name" in text
    )


def test_plaintext_http_on_an_https_port_is_not_tls_without_waiting(ports: dict[str, int]) -> None:
    the_run, diagnosis = run(
        f"https://127.0.0.1:{ports['plain_waits']}/", ("tls", "http"), "tls", timeout=5.0
    )
    tls = the_run.results["tls"].data
    http = the_run.results["http"].data
    assert isinstance(tls, TlsData) and tls.failure == "tls.not_tls" and tls.state != "timeout"
    assert tls.peer_protocol == "HTTP"
    assert isinstance(http, HttpData) and http.state == "tls_error" and http.peer_protocol == "HTTP"
    assert diagnosis.verdict == "tls.not_tls"
    assert "speaks HTTP" in evidence(diagnosis, "tls.not_tls")


def test_plaintext_http_without_tls_probe_is_not_tls(ports: dict[str, int]) -> None:
    _, diagnosis = run(f"https://127.0.0.1:{ports['plain_waits']}/", ("http",), "auto", timeout=5.0)
    assert diagnosis.verdict == "tls.not_tls"


def test_interception_through_the_proxy_is_found_by_comparison(
    pki: Pki, ports: dict[str, int]
) -> None:
    env = (("https_proxy", f"http://127.0.0.1:{ports['mitm']}"),)
    the_run, diagnosis = run(
        f"https://127.0.0.1:{ports['good']}/",
        ("tls", "http"),
        "tls",
        ca_file=str(pki.ca_file),
        proxy_env=env,
    )
    data = the_run.results["tls"].data
    assert isinstance(data, TlsData) and data.intercepted and data.direct_leaf is not None
    assert diagnosis.verdict == "proxy.tls_intercepted", [f.id for f in diagnosis.findings]
    text = evidence(diagnosis, "proxy.tls_intercepted")
    assert "Corp Outbound Inspection" in text  # the proxy's issuer
    assert "direct: issuer" in text and "key SHA-256" in text
    assert data.leaf is not None and data.leaf.spki_sha256 != data.direct_leaf.spki_sha256


def test_trusted_interception_is_a_warning(
    pki: Pki, ports: dict[str, int], inspection_ca: trustme.CA, tmp_path: Path
) -> None:
    both = tmp_path / "both.pem"
    both.write_bytes(pki.ca_file.read_bytes() + inspection_ca.cert_pem.bytes())
    env = (("https_proxy", f"http://127.0.0.1:{ports['mitm']}"),)
    _, diagnosis = run(
        f"https://127.0.0.1:{ports['good']}/", ("tls",), "tls", ca_file=str(both), proxy_env=env
    )
    f = finding(diagnosis, "proxy.tls_intercepted")
    assert f.severity is Severity.WARNING and "direct: issuer" in "\n".join(f.evidence)


def test_a_plain_tunnel_is_not_interception(pki: Pki, ports: dict[str, int]) -> None:
    env = (("HTTPS_PROXY", f"http://127.0.0.1:{ports['proxy']}"),)
    the_run, diagnosis = run(
        f"https://127.0.0.1:{ports['good']}/",
        ("tls",),
        "tls",
        ca_file=str(pki.ca_file),
        proxy_env=env,
    )
    data = the_run.results["tls"].data
    assert isinstance(data, TlsData) and data.verified and data.proxy and not data.intercepted
    assert diagnosis.verdict == "ok"
