"""A real PostgreSQL (Debian's package, one cluster for the module): trust logins,
pg_hba.conf entries missing or rejecting, and a server at max_connections, each
checked by URL and by the error text an application printed."""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.truth_helpers import check, expect, finding

SETUP_SQL = (
    "SET password_encryption = 'md5';\n\n"
    "CREATE ROLE md5user LOGIN PASSWORD 'md5-pw-3';\n\n"
    "SET password_encryption = 'scram-sha-256';\n\n"
    "CREATE ROLE app LOGIN PASSWORD 'app-pw-9';\n\n"
    "CREATE ROLE trusty LOGIN;\n\n"
    "CREATE DATABASE appdb OWNER app;\n\n"
)
HBA = (
    "host all blocked 127.0.0.1/32 reject\n"
    "host all trusty 127.0.0.1/32 trust\n"
    "host all md5user 127.0.0.1/32 md5\n"
    "host all app 127.0.0.1/32 scram-sha-256\n"
)  # no line for anyone else: "no pg_hba.conf entry"
MAX_CONNECTIONS = 4


@pytest.fixture(scope="module")
def pg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    from tests.servers.pki import Pki
    from tests.servers.services import postgres_server, postgres_unavailable

    reason = postgres_unavailable()
    if reason:
        pytest.skip(reason)
    pki = Pki(Path(tmp_path_factory.mktemp("pki")))
    leaf = pki.leaf()
    chain = b"".join(p.bytes() for p in leaf.cert_chain_pems)
    settings = (f"max_connections={MAX_CONNECTIONS}", "superuser_reserved_connections=0")
    with postgres_server(
        chain, leaf.private_key_pem.bytes(), ssl=False, setup_sql=SETUP_SQL, hba=HBA,
        settings=settings,
    ) as port:  # fmt: skip
        yield port


def test_trust_login_is_ok_and_reads_the_server(
    pg: int, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, doc = check(capsys, monkeypatch, f"postgres://trusty@127.0.0.1:{pg}/appdb?sslmode=prefer")
    expect(code, doc, "ok", "ok", 0)
    ok = finding(doc, "service.ok")
    assert "none (trust)" in " ".join(ok["evidence"]) and "logged in as trusty" in ok[
        "title"
    ] + " ".join(ok["evidence"])
    # sslmode=prefer falls back to plaintext: a note, not the verdict.
    assert finding(doc, "tls.starttls_refused")["severity"] == "info"


def test_prefer_on_a_server_without_ssl_is_info(
    pg: int, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, doc = check(
        capsys, monkeypatch, f"postgres://app:app-pw-9@127.0.0.1:{pg}/appdb?sslmode=prefer"
    )
    expect(code, doc, "ok", "ok", 0)
    assert finding(doc, "tls.starttls_refused")["severity"] == "info"
    code, doc = check(
        capsys, monkeypatch, f"postgres://app:app-pw-9@127.0.0.1:{pg}/appdb?sslmode=require"
    )
    expect(code, doc, "tls.starttls_refused", "error", 1, port=pg)


def test_wrong_md5_password(
    pg: int, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, doc = check(capsys, monkeypatch, f"postgres://md5user:nope@127.0.0.1:{pg}/appdb")
    f = expect(code, doc, "service.auth_failed", "error", 1, port=pg)
    assert "28P01" in " ".join(f["evidence"])
    assert any("user=md5user" in (s.get("command") or "") for s in f["next_steps"])


PSYCOPG2 = (
    'psycopg2.OperationalError: connection to server at "127.0.0.1", port {port} failed: '
    "FATAL:  {message}"
)


@pytest.mark.parametrize(
    ("message", "said"),
    [
        ('no pg_hba.conf entry for host "127.0.0.1", user "stranger", database "appdb", no encryption',
         "no pg_hba.conf entry"),
        ('pg_hba.conf rejects connection for host "127.0.0.1", user "blocked", database "appdb", no encryption',
         "rejects connection"),
        ('password authentication failed for user "app"', "password authentication failed"),
    ],
)  # fmt: skip
def test_pasted_pg_auth_errors_check_that_user(
    pg: int,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    message: str,
    said: str,
) -> None:
    """The user and database the error names are the ones netmedic logs in as."""
    text = PSYCOPG2.format(port=pg, message=message)
    code, doc = check(capsys, monkeypatch, "--error", text)
    f = expect(code, doc, "service.auth_failed", "error", 1, port=pg)
    assert said in " ".join(f["evidence"]), f["evidence"]


def _hold_connections(port: int, count: int) -> list[socket.socket]:
    """*count* trust sessions that stay logged in (each up to ReadyForQuery)."""
    held = []
    params = b"user\0trusty\0database\0appdb\0\0"
    for _ in range(count):
        s = socket.create_connection(("127.0.0.1", port), 5)
        s.sendall(struct.pack("!II", 8 + len(params), 196608) + params)
        seen = b""
        while not seen.endswith(b"Z\x00\x00\x00\x05I"):
            chunk = s.recv(4096)
            assert chunk, seen
            seen += chunk
        held.append(s)
    return held


def test_too_many_clients_by_url_and_by_pasted_error(
    pg: int, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    held = _hold_connections(pg, MAX_CONNECTIONS)
    try:
        code, doc = check(capsys, monkeypatch, f"postgres://app:app-pw-9@127.0.0.1:{pg}/appdb")
        f = expect(code, doc, "service.too_many_connections", "error", 1, port=pg)
        assert "53300" in " ".join(f["evidence"])
        text = PSYCOPG2.format(port=pg, message="sorry, too many clients already")
        code, doc = check(capsys, monkeypatch, "--error", text)
        expect(code, doc, "service.too_many_connections", "error", 1, port=pg)
    finally:
        for s in held:
            s.close()


def test_a_bare_port_is_identified_as_postgres(
    pg: int, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not 5432, silent: the SSLRequest after HTTP and PING names it; the service speaks."""
    code, doc = check(capsys, monkeypatch, f"127.0.0.1:{pg}")
    expect(code, doc, "ok", "ok", 0)
    assert "PostgreSQL answers" in finding(doc, "service.ok")["title"]
    reasons = {s["probe"]: s["reason"] for s in doc["followups"]}
    assert reasons["service"].startswith("a PostgreSQL SSLRequest was answered in PostgreSQL")
