"""Loopback cases where the evidence used to lie (real servers on 127.0.0.1)."""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from collections.abc import Iterator

import pytest

from probes.net.tcp import TcpData
from probes.path import mtu
from tests.probe_helpers import finding, icmp_unavailable_reason, run


def test_mtu_on_loopback_is_skipped_with_a_reason() -> None:
    the_run, _diagnosis = run("127.0.0.1:9", ("mtu",), timeout=1.0)
    result = the_run.results["mtu"]
    assert result.status.value == "skipped"
    assert "loopback" in result.summary


@pytest.mark.skipif(icmp_unavailable_reason() is not None, reason=str(icmp_unavailable_reason()))
def test_mtu_search_is_clamped_to_what_ip_can_carry(monkeypatch: pytest.MonkeyPatch) -> None:
    # Measure loopback anyway (MTU 65536): the search must stop at 65535 bytes.
    monkeypatch.setattr(mtu, "stays_on_host", lambda *_args: False)
    the_run, _diagnosis = run("127.0.0.1:9", ("mtu",), timeout=1.0)
    result = the_run.results["mtu"]
    assert result.status.value == "ok", result
    assert isinstance(result.data, mtu.MtuData)
    assert result.data.local_mtu == 65535
    assert result.data.path_mtu == 65535


@contextlib.contextmanager
def hangup_server(pattern: str) -> Iterator[int]:
    """A listener that hangs up right after accepting: "rst" (SO_LINGER 0),
    "fin" (plain close), "alternate" (resets every other connection, keeps the
    rest open), "healthy" (keeps every connection open)."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()
    held: list[socket.socket] = []

    def serve() -> None:
        count = 0
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            count += 1
            rst = pattern == "rst" or (pattern == "alternate" and count % 2 == 0)
            if rst:
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                conn.close()
            elif pattern == "fin":
                conn.close()
            else:
                held.append(conn)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield int(listener.getsockname()[1])
    finally:
        stop.set()
        thread.join()
        for conn in held:
            conn.close()
        listener.close()


@pytest.mark.parametrize(
    ("pattern", "severity", "words"),
    [
        ("rst", "error", "resets 3 of 3 connections right after accepting them"),
        ("fin", "error", "closes 3 of 3 connections right after accepting them"),
        ("alternate", "warning", "resets 1 of 3 connections"),
    ],
)
def test_reset_or_close_after_accept(pattern: str, severity: str, words: str) -> None:
    with hangup_server(pattern) as port:
        the_run, diagnosis = run(f"127.0.0.1:{port}", ("tcp",))
    assert diagnosis.verdict == "tcp.reset_after_connect"
    found = finding(diagnosis, "tcp.reset_after_connect")
    assert found.severity.value == severity
    assert words in found.title
    assert "before we sent anything" in "\n".join(found.evidence) or pattern == "alternate"
    assert the_run.results["tcp"].status.value == "failed"


def test_healthy_server_gets_three_clean_connects() -> None:
    with hangup_server("healthy") as port:
        the_run, diagnosis = run(f"127.0.0.1:{port}", ("tcp",))
    assert diagnosis.verdict == "ok"
    data = the_run.results["tcp"].data
    assert isinstance(data, TcpData)
    assert data.attempts[0].repeats == ("ok", "ok")
