"""A bare host:port that says nothing first gets its protocol identified (the port's
well-known protocol first, then an HTTP request, a Redis PING, a PostgreSQL
SSLRequest, a TLS ClientHello), and the probe for that protocol runs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from probes.proto.identify import order_for
from tests.servers.mtls import client_cert_server
from tests.truth_helpers import check, expect


def test_the_well_known_protocol_is_asked_first() -> None:
    assert order_for(5432) == ("postgres", "http", "redis", "tls")
    assert order_for(6380) == ("redis", "http", "postgres", "tls")
    assert order_for(6333) == ("http", "redis", "postgres", "tls")
    assert order_for(7000) == ("http", "redis", "postgres", "tls")


def test_redis_requiring_auth_on_a_bare_port(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.servers.services import redis_server, redis_unavailable

    if redis_unavailable():
        pytest.skip(str(redis_unavailable()))
    with redis_server(password="s3cret-redis") as port:
        code, doc = check(capsys, monkeypatch, f"127.0.0.1:{port}")
    f = expect(code, doc, "service.auth_required", "error", 1, port=port)
    assert "NOAUTH" in " ".join(f["evidence"])
    reasons = {s["probe"]: s["reason"] for s in doc["followups"]}
    assert "identify" in reasons and "service" in reasons
    assert "was answered in Redis" in reasons["service"]
    identify = next(p for p in doc["probes"] if p["probe"] == "identify")
    assert identify["data"]["protocol"] == "Redis"


@pytest.fixture(scope="module")
def mtls12(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, str]]:
    """TLS 1.2 demanding a client certificate; a client without one gets a reset."""
    with client_cert_server(Path(tmp_path_factory.mktemp("pki")), required=True) as served:
        yield served


def test_a_silent_tls_port_demanding_a_client_certificate(
    mtls12: tuple[int, str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    port, ca = mtls12
    code, doc = check(capsys, monkeypatch, f"localhost:{port}", "--ca-file", ca)
    expect(code, doc, "tls.client_cert_required", "error", 1, host="localhost", port=port)
    reasons = {s["probe"]: s["reason"] for s in doc["followups"]}
    assert "TLS ClientHello" in reasons["tls"] or "TLS" in reasons["tls"], reasons
