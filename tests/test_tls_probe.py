"""TLS inspector verdicts against real ssl servers on loopback with a PKI made here."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest

from probes.proto.tls import TlsData
from tests.probe_helpers import evidence, finding, run
from tests.servers.base import ServerThread, http_ok, silent
from tests.servers.httpserver import ssh
from tests.servers.pki import DAY, NOW, Pki
from tests.servers.tlsserver import TlsServer

# Python built "--with-ssl-default-suites=openssl" (Debian's python3) keeps the system
# OpenSSL's defaults: SHA-1 suites and TLS 1.0/1.1 offered.  Such a client connects
# where the hardened defaults (python.org builds) see a mismatch: nothing to find.
_DEFAULTS = ssl.create_default_context()
SYSTEM_CIPHERS = "ECDHE-ECDSA-AES128-SHA" in [c["name"] for c in _DEFAULTS.get_ciphers()]
SYSTEM_VERSIONS = _DEFAULTS.minimum_version < ssl.TLSVersion.TLSv1_2


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return Pki(Path(tmp_path_factory.mktemp("pki")))


@pytest.fixture(scope="module")
def servers(pki: Pki) -> Iterator[dict[str, int]]:
    contexts = {
        "good": pki.server_context(pki.leaf()),
        "expired": pki.server_context(pki.leaf(not_before=NOW - 90 * DAY, not_after=NOW - 3 * DAY)),
        "future": pki.server_context(pki.leaf(not_before=NOW + 2 * DAY, not_after=NOW + 90 * DAY)),
        "wrong_host": pki.server_context(pki.leaf("api.other.example", "*.other.example")),
        "self_signed": pki.self_signed_context(),
        "untrusted": pki.server_context(pki.other_intermediate.issue_cert("127.0.0.1")),
        "intercepted": pki.server_context(pki.mitm_root.issue_cert("127.0.0.1")),
        "leaf_only": pki.server_context(pki.leaf(), chain=False),
        "tls12_max": pki.server_context(pki.leaf(), max_version=ssl.TLSVersion.TLSv1_2),
        "tls11_only": _legacy(pki),
        "sha1_cipher": pki.server_context(
            pki.leaf(), max_version=ssl.TLSVersion.TLSv1_2, ciphers="ECDHE-ECDSA-AES128-SHA"
        ),
        "mtls13": pki.server_context(pki.leaf(), client_ca=pki.root),
        "mtls12": pki.server_context(
            pki.leaf(), client_ca=pki.root, max_version=ssl.TLSVersion.TLSv1_2
        ),
        "cn_only": pki.cn_only_context("localhost"),
        "soon": pki.server_context(pki.leaf(not_after=NOW + 9 * DAY)),
    }
    tls_servers = {name: TlsServer(ctx) for name, ctx in contexts.items() if ctx is not None}
    plain = ServerThread()
    ports = {name: s.port for name, s in tls_servers.items()}
    ports["plain_http"] = plain.serve(http_ok)
    ports["ssh"] = plain.serve(ssh)
    ports["silent"] = plain.serve(silent)
    yield ports
    plain.close()
    for s in tls_servers.values():
        s.close()


def _legacy(pki: Pki) -> ssl.SSLContext | None:
    """A server that speaks only TLS 1.0/1.1 (when this OpenSSL can still do that)."""
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            ctx = pki.server_context(
                pki.leaf(),
                min_version=ssl.TLSVersion.TLSv1,
                max_version=ssl.TLSVersion.TLSv1_1,
                ciphers="ALL:@SECLEVEL=0",
            )
    except (ssl.SSLError, ValueError):
        return None
    return ctx


def tls_check(
    pki: Pki, port: int, host: str = "127.0.0.1", **config: object
) -> tuple[TlsData, object]:
    the_run, diagnosis = run(
        f"https://{host}:{port}/", ("tls",), "tls", ca_file=str(pki.ca_file), **config
    )
    data = the_run.results["tls"].data
    assert isinstance(data, TlsData)
    return data, diagnosis


def test_valid_certificate_chain_is_parsed(pki: Pki, servers: dict[str, int]) -> None:
    data, diagnosis = tls_check(pki, servers["good"])
    assert diagnosis.verdict == "ok"  # type: ignore[attr-defined]
    assert data.verified and data.protocol == "TLSv1.3" and data.cipher
    assert len(data.chain) == 2
    leaf, inter = data.chain
    assert "IP:127.0.0.1" in leaf.sans and not leaf.is_ca
    assert inter.is_ca and leaf.issuer == inter.subject
    assert leaf.public_key.startswith("EC ") and len(leaf.sha256.split(":")) == 32
    assert leaf.days_left > 30
    text = evidence(diagnosis, "tls.ok")  # type: ignore[arg-type]
    assert "revocation (OCSP/CRL) was not checked" in text


@pytest.mark.parametrize(
    ("server", "verdict", "needle"),
    [
        ("expired", "tls.expired", "expired 3 days ago"),
        ("future", "tls.not_yet_valid", "clock is at least"),
        ("wrong_host", "tls.hostname_mismatch", "DNS:*.other.example"),
        ("self_signed", "tls.self_signed", "self-signed"),
        ("untrusted", "tls.untrusted_root", "Unknown Corp Root"),
        ("intercepted", "proxy.tls_intercepted", "mitmproxy"),
        ("leaf_only", "tls.incomplete_chain", "without the intermediate"),
        ("sha1_cipher", "tls.no_shared_cipher", "ECDHE-ECDSA-AES128-SHA"),
        ("mtls12", "tls.client_cert_required", "CertificateRequest"),
        ("mtls13", "tls.client_cert_required", "first read"),
        ("plain_http", "tls.not_tls", "speaks HTTP"),
        ("ssh", "tls.not_tls", "speaks SSH"),
        ("soon", "tls.expiring_soon", "expires in"),
        ("cn_only", "tls.cn_only", "browsers"),
    ],
)
def test_tls_failure_verdicts(
    pki: Pki, servers: dict[str, int], server: str, verdict: str, needle: str
) -> None:
    if server == "sha1_cipher" and SYSTEM_CIPHERS:
        pytest.skip(
            "this Python's ssl keeps the system OpenSSL's ciphers: SHA-1 suites are offered"
        )
    data, diagnosis = tls_check(
        pki, servers[server], "localhost" if server == "cn_only" else "127.0.0.1"
    )
    assert diagnosis.verdict == verdict, [f.id for f in diagnosis.findings]  # type: ignore[attr-defined]
    assert needle in evidence(diagnosis, verdict)  # type: ignore[arg-type]
    if server not in ("plain_http", "ssh", "sha1_cipher", "mtls12"):
        assert data.chain, "the chain the server sent is captured even when verification fails"


def test_protocol_mismatch_finds_the_accepted_versions(pki: Pki, servers: dict[str, int]) -> None:
    data, diagnosis = tls_check(pki, servers["tls12_max"], tls_min_version="TLSv1.3")
    assert diagnosis.verdict == "tls.protocol_mismatch"  # type: ignore[attr-defined]
    assert data.accepted_versions == ("TLSv1.2",)
    text = evidence(diagnosis, "tls.protocol_mismatch")  # type: ignore[arg-type]
    assert "this client offers TLSv1.3; the server accepts TLSv1.2" in text
    steps = [s.command for s in finding(diagnosis, "tls.protocol_mismatch").next_steps]  # type: ignore[arg-type]
    assert any(c and "-tls1_2" in c and f"127.0.0.1:{servers['tls12_max']}" in c for c in steps)


def test_legacy_only_server_is_a_protocol_mismatch(pki: Pki, servers: dict[str, int]) -> None:
    if SYSTEM_VERSIONS:
        pytest.skip("this Python's ssl keeps the system OpenSSL's versions: TLS 1.0/1.1 offered")
    if "tls11_only" not in servers:
        pytest.skip("this OpenSSL cannot serve TLS 1.0/1.1")
    data, diagnosis = tls_check(pki, servers["tls11_only"])
    assert diagnosis.verdict == "tls.protocol_mismatch"  # type: ignore[attr-defined]
    if not data.accepted_versions:
        pytest.skip("this OpenSSL cannot offer TLS 1.0/1.1 as a client either")
    assert set(data.accepted_versions) <= {"TLSv1", "TLSv1.1"}
    assert "the server accepts TLSv1" in evidence(diagnosis, "tls.protocol_mismatch")  # type: ignore[arg-type]


def test_silent_server_hits_the_handshake_deadline(pki: Pki, servers: dict[str, int]) -> None:
    the_run, diagnosis = run(
        f"tls://127.0.0.1:{servers['silent']}",
        ("tls",),
        "tls",
        timeout=1.0,
        ca_file=str(pki.ca_file),
    )
    assert diagnosis.verdict == "tls.handshake_timeout"
    assert (
        the_run.results["tls"].data.state == "timeout"
    )  # the probe's own answer, not the runner's


def test_not_applicable_is_skipped() -> None:
    the_run, _ = run("127.0.0.1:5", ("tls",), "refused")
    assert the_run.results["tls"].status == "skipped"
