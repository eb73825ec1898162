"""A URL naming one protocol at a port speaking another: the verdict names what the
port speaks (its banner, or its answer to the identify probe's questions), not the
client's timeout or hang-up; and a reset is never silence.  The whole matrix is
tests/reliability/test_scheme_mismatch.py; these are its classes, one each, in detail."""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest

from probes.core.model import ProbeResult, Status
from probes.core.target import parse_target
from probes.diagnosis.engine import diagnose
from probes.net.tcp import TcpAttempt, TcpData
from probes.proto.identify import order_for
from probes.proto.tls import UNREACHABLE, TlsData
from tests.servers.base import ServerThread, http_ok, server_thread
from tests.servers.pki import Pki
from tests.servers.services import resp_server
from tests.servers.tlsserver import TlsServer
from tests.truth_helpers import check, expect


async def _ssh(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"SSH-2.0-OpenSSH_9.6p1 Debian-4\r\n")
    await writer.drain()
    while await reader.read(1024):
        pass


@pytest.fixture(scope="module")
def st() -> Iterator[ServerThread]:
    with server_thread() as s:
        yield s


def test_http_to_an_ssh_port_is_not_http_from_its_banner(
    st: ServerThread, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An SSH server speaks first: its banner names it, no question needed."""
    port = st.serve(_ssh)
    code, doc = check(capsys, monkeypatch, f"http://127.0.0.1:{port}/")
    f = expect(code, doc, "http.not_http", "error", 1, port=port)
    assert f["title"].endswith("it speaks SSH"), f["title"]
    assert "SSH-2.0-OpenSSH_9.6p1" in " ".join(f["evidence"])
    assert "identify" not in {s["probe"] for s in doc["followups"]}


def test_postgres_to_an_ssh_port_is_not_postgresql(
    st: ServerThread, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The 'S' of "SSH-2.0" is not PostgreSQL's yes to SSLRequest: PostgreSQL says one
    byte and waits, an SSH server says a whole line."""
    port = st.serve(_ssh)
    code, doc = check(capsys, monkeypatch, f"postgres://127.0.0.1:{port}/app")
    f = expect(code, doc, "service.wrong_protocol", "error", 1, port=port)
    assert f["title"].endswith("it speaks SSH"), f["title"]
    tls = next(p for p in doc["probes"] if p["probe"] == "tls")
    assert tls["data"]["failure"] == "tls.starttls_refused", tls
    assert "SSH-2.0" in tls["data"]["detail"], tls


def test_smtp_to_an_http_port_is_the_wrong_protocol(
    st: ServerThread, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An SMTP client waits for a 220 greeting; an HTTP server waits for a request."""
    port = st.serve(http_ok)
    code, doc = check(capsys, monkeypatch, f"smtp://127.0.0.1:{port}")
    f = expect(code, doc, "service.wrong_protocol", "error", 1, port=port)
    assert f["title"] == f"port {port} on 127.0.0.1 does not speak SMTP: it speaks HTTP"
    ids = [x["id"] for x in doc["findings"]]
    if "tls.handshake_timeout" in ids:  # the greeting's wait is the consequence
        assert ids.index("service.wrong_protocol") < ids.index("tls.handshake_timeout")


def test_http_to_a_silent_redis_port_asks_and_names_redis(
    st: ServerThread, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Redis says nothing to an HTTP request: the identify probe's PING names it."""
    port = st.serve(resp_server())
    code, doc = check(capsys, monkeypatch, f"http://127.0.0.1:{port}/")
    f = expect(code, doc, "http.not_http", "error", 1, port=port)
    assert f["title"].endswith("it speaks Redis"), f["title"]
    asked = {s["probe"]: s for s in doc["followups"]}
    assert asked["identify"]["trigger"] == "http", asked
    identify = next(p for p in doc["probes"] if p["probe"] == "identify")
    assert identify["data"]["protocol"] == "Redis"
    assert "http" not in [q["probe"] for q in identify["data"]["questions"]]


def test_redis_to_a_tls_port_says_use_rediss(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A TLS server hangs up on plaintext: that reset is the consequence, TLS the answer."""
    pki = Pki(tmp_path)
    tls = TlsServer(pki.server_context(pki.leaf()))
    try:
        code, doc = check(capsys, monkeypatch, f"redis://127.0.0.1:{tls.port}")
    finally:
        tls.close()
    f = expect(code, doc, "service.wrong_protocol", "error", 1, port=tls.port)
    assert f["title"].endswith("it speaks TLS"), f["title"]
    commands = [s.get("command") or "" for s in f["next_steps"]]
    assert f"netmedic check rediss://127.0.0.1:{tls.port}/" in commands, commands


def test_a_reset_while_the_tls_probe_connects_is_not_filtered() -> None:
    """The peer reset the connection as it was accepted: an answer, not silence."""
    target = parse_target("tls://127.0.0.1:4433")
    attempt = TcpAttempt("127.0.0.1", 4, 4433, "open", 0.001, closed_by_peer="reset")
    tcp = ProbeResult("tcp", Status.FAILED, 0.2, "reset", TcpData(4433, (attempt,)))
    data = TlsData(
        "127.0.0.1", 4433, "", "", UNREACHABLE, detail="ECONNRESET: Connection reset by peer"
    )
    tls = ProbeResult("tls", Status.FAILED, 0.01, "reset", data)
    diagnosis = diagnose(target, {"tcp": tcp, "tls": tls})
    ids = [f.id for f in diagnosis.findings]
    assert diagnosis.verdict == "tcp.reset_after_connect", ids
    assert "tcp.filtered" not in ids


def test_a_tls_url_at_a_port_that_resets_everything(
    st: ServerThread, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    async def reset(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()

    port = st.serve(reset)
    code, doc = check(capsys, monkeypatch, f"wss://127.0.0.1:{port}/")
    expect(code, doc, "tcp.reset_after_connect", "error", 1, port=port)
    ids = [f["id"] for f in doc["findings"]]
    assert "tcp.filtered" not in ids and "tls.not_tls" not in ids, ids


@pytest.mark.parametrize(
    ("scheme", "port", "order"),
    [
        ("http", 80, ("tls", "redis", "postgres")),
        ("redis", 6379, ("tls", "http", "postgres")),
        ("https", 443, ("http", "redis", "postgres")),
        ("rediss", 6380, ("redis", "http", "postgres")),
        ("postgres", 5432, ("tls", "http", "redis")),
        ("smtp", 25, ("http", "redis", "postgres", "tls")),
        ("tcp", 5432, ("postgres", "http", "redis", "tls")),
    ],
)
def test_a_url_is_asked_its_likeliest_mix_up_first_and_never_its_own(
    scheme: str, port: int, order: tuple[str, ...]
) -> None:
    assert order_for(port, scheme) == order
