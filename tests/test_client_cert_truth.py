"""TLS 1.2 with a client certificate asked for and enforced per request (nginx's
``ssl_verify_client optional`` with ``return 444``): the handshake succeeds, the
request is reset. The verdict is the missing certificate, not the reset."""

from __future__ import annotations

import socket
import ssl
import struct
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers.pki import Pki
from tests.truth_helpers import check, expect


@pytest.fixture(scope="module")
def optional_mtls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, str]]:
    pki = Pki(Path(tmp_path_factory.mktemp("pki")))
    ctx = pki.server_context(pki.leaf(), client_ca=pki.root, max_version=ssl.TLSVersion.TLSv1_2)
    ctx.verify_mode = ssl.CERT_OPTIONAL
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            conn.settimeout(3)
            tls = ctx.wrap_socket(conn, server_side=True, do_handshake_on_connect=False)
            try:
                tls.do_handshake()
                tls.recv(1)  # the request arrives without a certificate: 444, an RST
            except (ssl.SSLError, OSError):
                pass
            try:
                tls.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            except OSError:
                pass
            tls.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield int(listener.getsockname()[1]), str(pki.ca_file)
    finally:
        stop.set()
        thread.join(5)
        listener.close()


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
