"""PostgreSQL: every startup failure's SQLSTATE and message; with credentials, the
server's limits (SHOW ssl, max_connections vs connections in use)."""

from __future__ import annotations

import shlex
from collections.abc import Iterator
from pathlib import Path

import pytest

from probes.proto.service import ServiceData
from tests.probe_helpers import evidence, finding, run
from tests.servers.base import ServerThread, server_thread
from tests.servers.pgserver import pg_error, pg_login


@pytest.fixture(scope="module")
def st() -> Iterator[ServerThread]:
    with server_thread() as s:
        yield s


@pytest.mark.parametrize(
    ("code", "message", "verdict", "advice"),
    [
        ("3D000", 'database "appdb" does not exist', "service.no_database", ""),
        ("28000", 'role "app" does not exist', "service.auth_failed", "CREATE ROLE"),
        ("28000", 'no pg_hba.conf entry for host "127.0.0.1", user "app", database "appdb", no encryption',
         "service.auth_failed", "pg_hba.conf"),
        ("28P01", 'password authentication failed for user "app"', "service.auth_failed", "password"),
        ("57P03", "the database system is starting up", "service.unavailable", ""),
        ("57P03", "the database system is shutting down", "service.unavailable", ""),
        ("57P03", "the database system is in recovery mode", "service.unavailable", ""),
        ("53300", "sorry, too many clients already", "service.too_many_connections", ""),
        ("08P01", "invalid startup packet layout", "service.unavailable", ""),
    ],
)  # fmt: skip
def test_startup_errors_name_sqlstate_and_message(
    st: ServerThread, code: str, message: str, verdict: str, advice: str
) -> None:
    port = st.serve(pg_error(code, message))
    _, diagnosis = run(f"postgres://app@127.0.0.1:{port}/appdb", ("service",), "auth")
    assert diagnosis.verdict == verdict, [f.id for f in diagnosis.findings]
    text = evidence(diagnosis, verdict)
    assert f"SQLSTATE {code}: {message}" in text
    f = finding(diagnosis, verdict)
    assert advice in " ".join(s.text for s in f.next_steps)
    for step in f.next_steps:
        if step.command:
            shlex.split(step.command)


@pytest.mark.parametrize("method", ["md5", "cleartext"])
def test_with_credentials_reads_the_limits(st: ServerThread, method: str) -> None:
    port = st.serve(pg_login("s3cret-pw", ("off", "100", "3", "95", "f", "16.2"), method))
    the_run, diagnosis = run(
        f"postgres://app:s3cret-pw@127.0.0.1:{port}/appdb", ("service",), "auth"
    )
    assert diagnosis.verdict == "service.connections_near_limit"
    text = evidence(diagnosis, "service.connections_near_limit")
    assert "95 of 97 in use" in text and "ssl: off" in text and "s3cret-pw" not in text
    data = the_run.results["service"].data
    assert isinstance(data, ServiceData) and data.field("max_connections") == "100"


def test_with_credentials_standby_is_read_only(st: ServerThread) -> None:
    port = st.serve(pg_login("pw", ("on", "100", "3", "5", "t", "16.2")))
    _, diagnosis = run(f"postgres://app:pw@127.0.0.1:{port}/appdb", ("service",), "auth")
    assert diagnosis.verdict == "service.read_only"
    assert "ssl: on" in evidence(diagnosis, "service.ok")


def test_wrong_password_is_auth_failed(st: ServerThread) -> None:
    port = st.serve(pg_login("right", ("on", "100", "3", "5", "f", "16.2")))
    _, diagnosis = run(f"postgres://app:wrong@127.0.0.1:{port}/appdb", ("service",), "auth")
    assert diagnosis.verdict == "service.auth_failed"
    assert "28P01" in evidence(diagnosis, "service.auth_failed")


def test_missing_database_after_login(st: ServerThread) -> None:
    port = st.serve(pg_login("pw", ("on", "100", "3", "5", "f", "16.2")))
    _, diagnosis = run(f"postgres://app:pw@127.0.0.1:{port}/nope", ("service",), "auth")
    assert diagnosis.verdict == "service.no_database"
    f = finding(diagnosis, "service.no_database")
    listing = next(s.command for s in f.next_steps if s.command)
    assert shlex.split(listing)[-1] == "-l" and "dbname=postgres" in listing


def test_real_postgres_scram_login_reads_ssl_and_connections(tmp_path: Path) -> None:
    from tests.servers.pki import Pki
    from tests.servers.services import postgres_server, postgres_unavailable

    reason = postgres_unavailable()
    if reason:
        pytest.skip(reason)
    pki = Pki(tmp_path)
    leaf = pki.leaf()
    chain = b"".join(p.bytes() for p in leaf.cert_chain_pems)
    sql = (
        "SET password_encryption = 'scram-sha-256';\n\n"
        "CREATE ROLE app LOGIN PASSWORD 'app-pw-9';\n\n"
        "CREATE DATABASE appdb OWNER app;\n\n"
    )
    with postgres_server(chain, leaf.private_key_pem.bytes(), setup_sql=sql) as port:
        the_run, diagnosis = run(
            f"postgres://app:app-pw-9@127.0.0.1:{port}/appdb?sslmode=require", ("service",), "auth"
        )
        _, wrong = run(f"postgres://app:nope@127.0.0.1:{port}/appdb", ("service",), "auth")
        _, missing = run(f"postgres://app:app-pw-9@127.0.0.1:{port}/nodb", ("service",), "auth")
    assert diagnosis.verdict == "ok", [f.title for f in diagnosis.findings]
    data = the_run.results["service"].data
    assert isinstance(data, ServiceData) and data.field("ssl") == "on"
    assert int(data.field("connections")) >= 1 and data.field("in_recovery") == "f"
    assert "logged in as app" in evidence(diagnosis, "service.ok")
    assert wrong.verdict == "service.auth_failed"
    assert "28P01" in evidence(wrong, "service.auth_failed")
    assert missing.verdict == "service.no_database"
    assert "3D000" in evidence(missing, "service.no_database")
