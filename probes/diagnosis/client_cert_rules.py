"""A server that asks for a client certificate and hangs up on a request made without
one (nginx ``ssl_verify_client optional`` with ``return 444``, an application checking
the certificate per request).

The handshake succeeds, so the TLS probe alone sees nothing wrong, and the request
alone reads as "reset after connect"; together they say what is missing.
"""

from __future__ import annotations

from collections.abc import Iterator

from probes.core.model import Finding, NextStep, Severity
from probes.diagnosis.evidence import Evidence, q
from probes.proto.http import CLOSED, RESET, HttpData
from probes.proto.tls import OK, TlsData


def hangup_without_client_cert(ev: Evidence) -> Iterator[Finding]:
    tls = ev.data("tls", TlsData)
    http = ev.data("http", HttpData)
    if tls is None or http is None or not tls.client_cert_requested or tls.state != OK:
        return
    if http.state not in (RESET, CLOSED) or http.hangup_when == "before the request":
        return
    how = "resets" if http.state == RESET else "closes"
    host = ev.target.host_port
    yield Finding(
        "tls.client_cert_required",
        Severity.ERROR,
        f"{ev.target.host} asks for a client certificate and {how} the connection when "
        "the request comes without one",
        (
            f"the TLS handshake with {host} carried a CertificateRequest; netmedic sent no "
            f"certificate and the handshake completed ({tls.protocol})",
            f"GET {http.url}: {http.detail} ({http.hangup_when or 'after the request'})",
        ),
        (
            NextStep("Configure the client with its certificate and key"),
            NextStep(
                "Test with them",
                f"curl -sv --cert client.pem --key client.key {q(http.url)}",
            ),
        ),
    )


RULES = (hangup_without_client_cert,)
