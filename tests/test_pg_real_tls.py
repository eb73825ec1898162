"""A real PostgreSQL whose certificate expired: libpq's sslmode decides what the client
feels. prefer/require do not verify (the client connects: a warning, exit 0);
verify-full does (an error, exit 1)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.truth_helpers import check, expect


@pytest.fixture(scope="module")
def expired_pg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, str]]:
    from tests.servers.pki import Pki
    from tests.servers.services import postgres_server, postgres_unavailable

    reason = postgres_unavailable()
    if reason:
        pytest.skip(reason)
    pki = Pki(Path(tmp_path_factory.mktemp("pki")))
    now = dt.datetime.now(dt.UTC)
    leaf = pki.leaf(not_before=now - dt.timedelta(days=30), not_after=now - dt.timedelta(days=1))
    chain = b"".join(p.bytes() for p in leaf.cert_chain_pems)
    with postgres_server(
        chain, leaf.private_key_pem.bytes(), setup_sql="CREATE ROLE trusty LOGIN;\n\n",
        hba="host all trusty 127.0.0.1/32 trust\n",
    ) as port:  # fmt: skip
        yield port, str(pki.ca_file)


@pytest.mark.parametrize(
    ("mode", "severity", "exit_code"),
    [("prefer", "warning", 0), ("require", "warning", 0), ("verify-full", "error", 1)],
)
def test_an_expired_certificate_is_felt_as_the_sslmode_says(
    expired_pg: tuple[int, str],
    mode: str,
    severity: str,
    exit_code: int,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    port, ca = expired_pg
    url = f"postgres://trusty@127.0.0.1:{port}/postgres?sslmode={mode}"
    code, doc = check(capsys, monkeypatch, url, "--ca-file", ca)
    expect(code, doc, "tls.expired", severity, exit_code, port=port)
    assert any(f["id"] == "service.ok" for f in doc["findings"])  # the login itself works
