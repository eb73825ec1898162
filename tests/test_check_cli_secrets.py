"""`netmedic check` end to end as a subprocess: verdicts, usage errors, and canary
secrets (URL password, header from env, proxy password) that must appear nowhere."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.probe_helpers import ROOT, check_cli, clean_env
from tests.servers import httpserver as H
from tests.servers.base import ServerThread
from tests.servers.pki import DAY, NOW, Pki
from tests.servers.tlsserver import TlsServer

URL_PASS = "CanaryUrlPass-7f3a"
HEADER_SECRET = "CanaryHeader-91c2"
PROXY_PASS = "CanaryProxy-44d0"
QUERY_SECRET = "CanaryQuery-0b5e"
CANARIES = (URL_PASS, HEADER_SECRET, PROXY_PASS, QUERY_SECRET)


@pytest.fixture(scope="module")
def ports() -> Iterator[dict[str, int]]:
    st = ServerThread()
    handlers = {
        "reflect": H.reflect_401("x-api-key"),  # echoes the secret header back in its challenge
        "proxy": H.proxy("alice", "right-password"),
    }
    yield {name: st.serve(h) for name, h in handlers.items()}
    st.close()


def _env(ports: dict[str, int], **extra: str) -> dict[str, str]:
    return clean_env(
        NM_API_KEY=HEADER_SECRET,
        HTTP_PROXY=f"http://carol:{PROXY_PASS}@127.0.0.1:{ports['proxy']}",
        **extra,
    )


def _args(ports: dict[str, int]) -> list[str]:
    return [
        "--symptom",
        "auth",
        "--timeout",
        "3",
        "--header",
        "X-Api-Key: $NM_API_KEY",
        f"http://bob:{URL_PASS}@127.0.0.1:{ports['reflect']}/private?token={QUERY_SECRET}&page=2",
    ]


def test_canaries_never_appear_in_json(ports: dict[str, int]) -> None:
    # The proxy applies: the HTTP request goes through it, as a client's would, and
    # the proxy rejects carol's password.
    doc, stdout, stderr = check_cli(*_args(ports), env=_env(ports))
    for canary in CANARIES:
        assert canary not in stdout and canary not in stderr
    assert doc["verdict"] == "proxy.auth_required"
    proxy = next(f for f in doc["findings"] if f["id"] == "proxy.auth_required")
    assert "credentials were sent and rejected" in proxy["evidence"]
    assert any("via proxy http://***@127.0.0.1" in line for line in proxy["evidence"])
    assert any("carol:***@" in line or "***@" in line for line in proxy["evidence"])
    http = next(p for p in doc["probes"] if p["probe"] == "http")
    assert http["data"]["proxy"] == f"http://***@127.0.0.1:{ports['proxy']}"
    assert doc["target"]["input"].startswith("http://***@127.0.0.1")


def test_canaries_never_appear_in_json_when_the_site_reflects_them(
    ports: dict[str, int],
) -> None:
    # NO_PROXY: the request goes straight to the site, which echoes the secret header.
    doc, stdout, stderr = check_cli(*_args(ports), env=_env(ports, NO_PROXY="127.0.0.1"))
    for canary in CANARIES:
        assert canary not in stdout and canary not in stderr
    assert doc["verdict"] == "http.unauthorized"
    unauthorized = next(f for f in doc["findings"] if f["id"] == "http.unauthorized")
    text = "\n".join(unauthorized["evidence"])
    assert 'got="***"' in text  # the reflected secret was scrubbed, the rest kept
    assert "X-Api-Key (values hidden)" in text


def test_canaries_never_appear_in_rich_output(ports: dict[str, int]) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tui.cli", "check", *_args(ports)],
        capture_output=True,
        text=True,
        env=_env(ports),
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    assert "proxy.auth_required" in done.stdout
    for canary in CANARIES:
        assert canary not in done.stdout and canary not in done.stderr


def test_expired_certificate_end_to_end(tmp_path: Path) -> None:
    pki = Pki(tmp_path)
    server = TlsServer(
        pki.server_context(pki.leaf(not_after=NOW - 2 * DAY, not_before=NOW - 9 * DAY))
    )
    try:
        doc, _, _ = check_cli(
            "--symptom",
            "tls",
            "--timeout",
            "3",
            "--ca-file",
            str(pki.ca_file),
            f"https://127.0.0.1:{server.port}/",
        )
    finally:
        server.close()
    assert doc["verdict"] == "tls.expired"
    tls = next(p for p in doc["probes"] if p["probe"] == "tls")
    assert tls["status"] == "failed" and len(tls["data"]["chain"]) == 2
    assert tls["data"]["chain"][0]["days_left"] < 0
    steps = next(f for f in doc["findings"] if f["id"] == "tls.expired")["next_steps"]
    assert any(s["command"] and f"127.0.0.1:{server.port}" in s["command"] for s in steps)


def test_ssl_cert_file_is_honoured(tmp_path: Path) -> None:
    pki = Pki(tmp_path)
    server = TlsServer(pki.server_context(pki.leaf()))
    try:
        doc, _, _ = check_cli(
            "--symptom",
            "tls",
            "--timeout",
            "3",
            f"https://127.0.0.1:{server.port}/",
            env=clean_env(SSL_CERT_FILE=str(pki.ca_file)),
        )
    finally:
        server.close()
    assert doc["verdict"] == "ok", [f["id"] for f in doc["findings"]]
    assert {f["id"] for f in doc["findings"]} >= {"tls.ok", "http.ok"}


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--header", "X-Api-Key: literal-secret"], "environment variable"),
        (["--header", "X-Api-Key: $NM_SURELY_UNSET_VAR"], "is not set"),
        (["--header", "Bad Name: $HOME"], "bad header name"),
        (["--origin", "ftp://x.example"], "--origin"),
    ],
)
def test_bad_options_are_one_line_exit_2(args: list[str], needle: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tui.cli", "check", *args, "127.0.0.1:9"],
        capture_output=True,
        text=True,
        env=clean_env(),
        cwd=ROOT,
        timeout=30,
        check=False,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1 and needle in done.stderr
    assert "literal-secret" not in done.stderr
