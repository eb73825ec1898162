"""TLS 1.2 with a client certificate asked for and enforced per request (nginx's
``ssl_verify_client optional`` with ``return 444``): the handshake succeeds, the
request is reset. The verdict is the missing certificate, not the reset."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers.mtls import client_cert_server
from tests.truth_helpers import check, expect


@pytest.fixture(scope="module")
def optional_mtls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, str]]:
    with client_cert_server(Path(tmp_path_factory.mktemp("pki")), required=False) as served:
        yield served


def test_the_missing_client_certificate_outranks_the_reset(
    optional_mtls: tuple[int, str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    port, ca = optional_mtls
    code, doc = check(capsys, monkeypatch, f"https://localhost:{port}/", "--ca-file", ca)
    f = expect(code, doc, "tls.client_cert_required", "error", 1, host="localhost", port=port)
    assert "CertificateRequest" in " ".join(f["evidence"])
    ids = [x["id"] for x in doc["findings"]]
    assert ids.index("tls.client_cert_required") < ids.index("tcp.reset_after_connect")


def test_the_reset_alone_stays_the_verdict_without_a_certificate_request() -> None:
    from probes.core.model import Finding, Severity
    from probes.diagnosis.ranking import rank

    reset = Finding("tcp.reset_after_connect", Severity.ERROR, "reset")
    expired = Finding("tls.expired", Severity.ERROR, "expired")
    assert rank([expired, reset]).verdict == "tcp.reset_after_connect"
    asked = Finding("tls.client_cert_required", Severity.ERROR, "mTLS")
    assert rank([reset, asked]).verdict == "tls.client_cert_required"
