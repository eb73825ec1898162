"""Service protocols against a real redis-server and a real PostgreSQL on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from probes.core.model import Severity
from probes.proto.service import ServiceData
from probes.proto.tls import TlsData
from tests.probe_helpers import evidence, finding, run
from tests.servers.base import ServerThread
from tests.servers.httpserver import ssh
from tests.servers.pki import Pki
from tests.servers.services import (
    postgres_server,
    postgres_unavailable,
    redis_server,
    redis_unavailable,
)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return Pki(Path(tmp_path_factory.mktemp("svc-pki")))


@pytest.fixture(scope="module")
def redis_port() -> Iterator[int]:
    reason = redis_unavailable()
    if reason:
        pytest.skip(reason)
    with redis_server(password="redis-pw") as port:
        yield port


def test_redis_noauth(redis_port: int) -> None:
    _the_run, diagnosis = run(f"redis://127.0.0.1:{redis_port}", ("service",), "auth")
    assert diagnosis.verdict == "service.auth_required"
    assert "NOAUTH" in evidence(diagnosis, "service.auth_required")


def test_redis_wrongpass(redis_port: int) -> None:
    _, diagnosis = run(f"redis://:not-it@127.0.0.1:{redis_port}", ("service",), "auth")
    assert diagnosis.verdict == "service.auth_failed"
    text = evidence(diagnosis, "service.auth_failed")
    assert "WRONGPASS" in text and "not-it" not in text


def test_redis_ping_ok(redis_port: int) -> None:
    the_run, diagnosis = run(f"redis://:redis-pw@127.0.0.1:{redis_port}", ("service",), "auth")
    assert diagnosis.verdict == "ok"
    data = the_run.results["service"].data
    assert isinstance(data, ServiceData) and data.reply.endswith("+PONG")


def test_rediss_certificate_is_inspected(pki: Pki, tmp_path: Path) -> None:
    reason = redis_unavailable()
    if reason:
        pytest.skip(reason)
    leaf = pki.leaf()
    cert, key = tmp_path / "chain.pem", tmp_path / "key.pem"
    cert.write_bytes(b"".join(p.bytes() for p in leaf.cert_chain_pems))
    leaf.private_key_pem.write_to_path(str(key))
    try:
        server = redis_server(tls=(str(cert), str(key), str(pki.ca_file)))
        port = server.__enter__()
    except RuntimeError as exc:  # a redis-server built without TLS
        pytest.skip(f"redis-server cannot serve TLS here: {exc}")
    try:
        the_run, diagnosis = run(
            f"rediss://127.0.0.1:{port}", ("tls", "service"), "tls", ca_file=str(pki.ca_file)
        )
    finally:
        server.__exit__(None, None, None)
    assert diagnosis.verdict == "ok", [f.id for f in diagnosis.findings]
    data = the_run.results["tls"].data
    assert isinstance(data, TlsData) and data.verified and len(data.chain) == 2


def test_wrong_protocol_on_redis_port_is_named() -> None:
    st = ServerThread()
    try:
        port = st.serve(ssh)
        _, diagnosis = run(f"redis://127.0.0.1:{port}", ("service",), "service-down")
    finally:
        st.close()
    assert diagnosis.verdict == "service.wrong_protocol"
    assert "speaks SSH" in evidence(diagnosis, "service.wrong_protocol")


@pytest.fixture(scope="module")
def pg_port(pki: Pki) -> Iterator[int]:
    reason = postgres_unavailable()
    if reason:
        pytest.skip(reason)
    leaf = pki.leaf()
    chain = b"".join(p.bytes() for p in leaf.cert_chain_pems)
    with postgres_server(chain, leaf.private_key_pem.bytes()) as port:
        yield port


def test_postgres_speaks_protocol_and_offers_tls(pki: Pki, pg_port: int) -> None:
    the_run, diagnosis = run(
        f"postgres://app@127.0.0.1:{pg_port}/appdb",
        ("tls", "service"),
        "auth",
        ca_file=str(pki.ca_file),
    )
    assert diagnosis.verdict == "ok", [f.id for f in diagnosis.findings]
    svc = the_run.results["service"].data
    assert isinstance(svc, ServiceData)
    assert svc.tls_offered == "yes" and "SCRAM-SHA-256" in svc.auth_method
    tls = the_run.results["tls"].data
    assert isinstance(tls, TlsData) and tls.starttls == "postgres" and tls.verified
    assert tls.chain and "IP:127.0.0.1" in tls.chain[0].sans


def test_postgres_pg_hba_reject_is_an_auth_failure(pg_port: int) -> None:
    _, diagnosis = run(f"postgres://blocked@127.0.0.1:{pg_port}/x", ("service",), "auth")
    assert diagnosis.verdict == "service.auth_failed"
    assert "pg_hba.conf" in evidence(diagnosis, "service.auth_failed")


def test_postgres_placeholder_user_rejection_is_not_a_fault(pg_port: int) -> None:
    # No user in the URL: the probe's placeholder user may be refused by pg_hba;
    # the server still answered the protocol, so that is no finding against it.
    the_run, diagnosis = run(f"postgres://127.0.0.1:{pg_port}", ("service",), "auth")
    assert diagnosis.verdict == "ok"
    assert the_run.results["service"].status == "ok"
    assert "placeholder user" in the_run.results["service"].data.detail


@pytest.fixture(scope="module")
def plain_pg_port(pki: Pki) -> Iterator[int]:
    """A healthy PostgreSQL with ssl = off."""
    reason = postgres_unavailable()
    if reason:
        pytest.skip(reason)
    leaf = pki.leaf()
    chain = b"".join(p.bytes() for p in leaf.cert_chain_pems)
    with postgres_server(chain, leaf.private_key_pem.bytes(), ssl=False) as port:
        yield port


def test_sslmode_disable_against_plaintext_postgres_is_ok(plain_pg_port: int) -> None:
    the_run, diagnosis = run(
        f"postgres://app@127.0.0.1:{plain_pg_port}/appdb?sslmode=disable",
        ("tls", "service"),
        "auto",
    )
    assert diagnosis.verdict == "ok", [f.id for f in diagnosis.findings]
    assert the_run.results["tls"].status == "skipped"
    assert "sslmode=disable" in the_run.results["tls"].summary


def test_sslmode_require_against_plaintext_postgres_is_an_error(plain_pg_port: int) -> None:
    _, diagnosis = run(
        f"postgres://app@127.0.0.1:{plain_pg_port}/appdb?sslmode=require",
        ("tls", "service"),
        "auto",
    )
    assert diagnosis.verdict == "tls.starttls_refused"


def test_sslmode_prefer_pg_hba_rejection_outranks_no_tls(plain_pg_port: int) -> None:
    _, diagnosis = run(
        f"postgres://blocked@127.0.0.1:{plain_pg_port}/x?sslmode=prefer", ("tls", "service"), "auto"
    )
    assert diagnosis.verdict == "service.auth_failed", [f.id for f in diagnosis.findings]
    text = evidence(diagnosis, "service.auth_failed")
    assert "SQLSTATE 28000" in text and "pg_hba.conf" in text
    assert finding(diagnosis, "tls.starttls_refused").severity is Severity.INFO


def test_prefer_uses_tls_for_the_startup_when_offered(pg_port: int) -> None:
    the_run, diagnosis = run(
        f"postgres://app@127.0.0.1:{pg_port}/appdb?sslmode=prefer", ("service",), "auth"
    )
    assert diagnosis.verdict == "ok"
    data = the_run.results["service"].data
    assert isinstance(data, ServiceData) and data.tls_offered == "yes" and data.sslmode == "prefer"


def test_redis_at_maxclients_is_too_many_connections() -> None:
    import socket
    import time

    reason = redis_unavailable()
    if reason:
        pytest.skip(reason)
    with redis_server(maxclients=1) as port:
        held = None
        for _ in range(50):  # the start-up check's connection may still count: retry
            sock = socket.create_connection(("127.0.0.1", port))
            sock.sendall(b"PING\r\n")
            if sock.recv(64).startswith(b"+PONG"):
                held = sock  # the one allowed client
                break
            sock.close()
            time.sleep(0.05)
        assert held is not None
        with held:
            _, diagnosis = run(f"redis://127.0.0.1:{port}", ("service",), "too-many-connections")
    assert diagnosis.verdict == "service.too_many_connections"
    assert "max number of clients reached" in evidence(diagnosis, "service.too_many_connections")


@pytest.mark.parametrize(
    ("reply", "verdict", "words"),
    [
        (b"-LOADING Redis is loading the dataset in memory\r\n", "service.unavailable", "loading"),
        (
            b"-READONLY You can't write against a read only replica.\r\n",
            "service.unavailable",
            "read-only",
        ),
        (
            b"-MISCONF Redis is configured to save RDB snapshots\r\n",
            "service.persistence_failed",
            "MISCONF",
        ),
        (
            b"-OOM command not allowed when used memory > 'maxmemory'.\r\n",
            "service.unavailable",
            "maxmemory",
        ),
        (b"-NOAUTH Authentication required.\r\n", "service.auth_required", "NOAUTH"),
        (b"-WRONGPASS invalid username-password pair\r\n", "service.auth_failed", "WRONGPASS"),
        (b"-ERR max number of clients reached\r\n", "service.too_many_connections", "max number"),
    ],
)
def test_redis_error_replies(reply: bytes, verdict: str, words: str) -> None:
    from tests.servers.services import redis_standin

    st = ServerThread()
    try:
        port = st.serve(redis_standin(reply))
        _, diagnosis = run(f"redis://:pw@127.0.0.1:{port}", ("service",), "service-down")
    finally:
        st.close()
    assert diagnosis.verdict == verdict
    assert words in evidence(diagnosis, verdict)
