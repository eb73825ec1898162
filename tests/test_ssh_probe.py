"""``ssh://host[:port]`` (issue 26): banner, protocol version, host key type and the
login methods offered, from a real sshd on loopback; read-only: nothing logs in."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from probes.core.target import parse_target
from probes.proto.service import ServiceData
from probes.proto.sshwire import SshError, parse_identification
from tests.probe_helpers import evidence, finding, run
from tests.servers.base import http_ok, server_thread
from tests.servers.httpserver import ssh
from tests.servers.sshd import sshd, sshd_unavailable_reason

REPO = Path(__file__).resolve().parents[1]
needs_sshd = pytest.mark.skipif(
    sshd_unavailable_reason() is not None, reason=str(sshd_unavailable_reason())
)


def test_ssh_urls_default_to_port_22() -> None:
    target = parse_target("ssh://git@git.example.com")
    assert (target.scheme, target.port, target.username) == ("ssh", 22, "git")
    assert parse_target("ssh://[fd00::5]:2222").port == 2222


def test_identification_line_is_parsed_and_cleaned() -> None:
    banner, protocol, software = parse_identification(b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n")
    assert (banner, protocol, software) == (
        "SSH-2.0-OpenSSH_9.2p1 Debian-2",
        "2.0",
        "OpenSSH_9.2p1 Debian-2",
    )
    assert "\x1b" not in parse_identification(b"SSH-2.0-evil\x1b[31m\r\n")[0]
    with pytest.raises(SshError):
        parse_identification(b"HTTP/1.1 400 Bad Request\r\n")


@needs_sshd
def test_publickey_only_server_is_read_without_logging_in(tmp_path: Path) -> None:
    with sshd(tmp_path) as server:
        the_run, diagnosis = run(f"ssh://git@127.0.0.1:{server.port}", ("tcp", "service"))
        log = server.log.read_text()
    data = the_run.results["service"].data
    assert isinstance(data, ServiceData) and data.state == "ok", data
    assert data.field("protocol") == "2.0"
    assert data.field("banner").startswith("SSH-2.0-OpenSSH_")
    assert data.field("host key") == f"ssh-ed25519 {server.fingerprint}"
    assert data.field("login methods") == "publickey"
    assert diagnosis.verdict == "ok"
    text = evidence(diagnosis, "service.ok")
    assert "SSH answers on 127.0.0.1" in text and "no credentials were sent" in text
    # Read-only: sshd saw no password, no key, no accepted login.
    assert "Accepted" not in log and "Failed password" not in log and "Postponed" not in log


@needs_sshd
def test_password_server_with_an_rsa_key(tmp_path: Path) -> None:
    with sshd(tmp_path, key_type="rsa", password=True) as server:
        the_run, _ = run(f"ssh://127.0.0.1:{server.port}", ("tcp", "service"))
    data = the_run.results["service"].data
    assert isinstance(data, ServiceData) and data.state == "ok", data
    assert data.field("host key").startswith("ssh-rsa ")  # the key's type (signed rsa-sha2)
    assert data.field("host key").endswith(server.fingerprint)
    assert data.field("login methods") == "publickey, password"


def test_ssh_url_to_an_http_port_is_the_wrong_protocol() -> None:
    with server_thread() as servers:
        port = servers.serve(http_ok)
        _, diagnosis = run(f"ssh://127.0.0.1:{port}", ("tcp", "service"))
    wrong = finding(diagnosis, "service.wrong_protocol")
    assert "is not SSH: it speaks HTTP" in wrong.title
    assert diagnosis.verdict == "service.wrong_protocol"


@needs_sshd
def test_check_prints_what_the_ssh_server_offers(tmp_path: Path) -> None:
    with sshd(tmp_path) as server:
        done = subprocess.run(
            [sys.executable, "-m", "tui.cli", "check", f"ssh://127.0.0.1:{server.port}"],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=REPO,
            env={**os.environ, "COLUMNS": "100", "XDG_STATE_HOME": str(tmp_path / "state")},
        )
    assert done.returncode == 0, done.stderr
    assert "SSH answers on 127.0.0.1" in done.stdout and "logins by publickey" in done.stdout
    assert "ssh-ed25519" in done.stdout
    assert len(done.stdout.splitlines()) <= 25


def test_http_url_on_an_ssh_port_ends_with_one_service_rerun() -> None:
    """A banner naming SSH re-runs the skipped service probe once, not forever (the
    runner passed deduplicated names, so 'once' never counted)."""
    with server_thread() as servers:
        port = servers.serve(ssh)
        the_run, diagnosis = run(f"http://127.0.0.1:{port}/", ("tcp", "http", "service"))
    assert diagnosis.verdict == "http.not_http"
    assert [s.probe for s in the_run.steps].count("service") <= 2
