"""Issue 22 follow-up: netmedic's own connections are not the server's fault.

A real loopback server that accepts and never closes (it sleeps on every connection)
leaves each connection whose client hung up in CLOSE_WAIT — the TCP probe's own
connects included.  The real TCP probe connects to it (with the repeats the
``refused`` runbook sizes, some twenty), then a real local look
(:func:`probes.host.local.collect_local`) sees their sockets in CLOSE_WAIT, and the
rules run over both results, in that order so the look surely comes after the connects.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from probes.core.model import Diagnosis, ProbeResult, Status
from probes.core.target import parse_target
from probes.diagnosis.engine import diagnose
from probes.diagnosis.evidence import Evidence
from probes.diagnosis.own_connections import own_ends
from probes.host.connends import ConnEnd, carry_over, parse_endpoint
from probes.host.local import LocalData, collect_local, refresh_local
from probes.net.tcp import TcpData
from tests.probe_helpers import finding, run


class Sleeper:
    """Accepts every connection and never closes one (until the test ends)."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0), backlog=256)
        self.port = int(self.sock.getsockname()[1])
        self.held: list[socket.socket] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(conn)

    def close(self) -> None:
        self.sock.close()
        for conn in self.held:
            conn.close()


@pytest.fixture
def sleeper() -> Iterator[Sleeper]:
    server = Sleeper()
    yield server
    server.close()


def _connects(port: int) -> ProbeResult:
    """The real TCP probe's connects, sized as the 'refused' runbook asks."""
    the_run, _ = run(f"127.0.0.1:{port}", ("tcp",), symptom="refused", timeout=3.0)
    result = the_run.results["tcp"]
    assert isinstance(result.data, TcpData)
    return result


def _look(port: int, expect: int) -> LocalData:
    """A real local look, once the server shows *expect* CLOSE_WAIT sockets."""
    for _ in range(50):
        data = collect_local(["127.0.0.1"], port)
        server = data.target.server
        if server is not None and server.count("CLOSE_WAIT") >= expect:
            return data
        threading.Event().wait(0.05)
    raise AssertionError(f"never {expect} CLOSE_WAIT on port {port}")


def _diagnose(port: int, data: LocalData, tcp: ProbeResult | None = None) -> Diagnosis:
    """The rules over the local look (and the TCP probe's result, when given)."""
    results = {"local": ProbeResult("local", Status.OK, data.collect_s, "", data)}
    if tcp is not None:
        results["tcp"] = tcp
    return diagnose(parse_target(f"127.0.0.1:{port}"), results, "refused")


def _text(diagnosis: Diagnosis, fid: str) -> str:
    f = finding(diagnosis, fid)
    return "\n".join((f.title, *f.evidence))


def test_own_connects_to_a_server_that_never_closes_are_no_leak(sleeper: Sleeper) -> None:
    tcp = _connects(sleeper.port)
    assert isinstance(tcp.data, TcpData)
    own = {parse_endpoint(s) for s in tcp.data.own_sources}
    assert len(own) >= 10  # the first connect, the banner nudge's, and the repeats
    data = _look(sleeper.port, len(own))
    seen = {e.key for e in data.target.close_wait_ends}
    assert own <= seen  # every one of ours is there, in CLOSE_WAIT
    diagnosis = _diagnose(sleeper.port, data, tcp)
    assert "local.close_wait" not in [f.id for f in diagnosis.findings]
    # Without knowing they are ours, the same look is a leak: the exclusion did it.
    blind = _diagnose(sleeper.port, data)
    assert "local.close_wait" in [f.id for f in blind.findings]
    text = _text(diagnosis, "local.connections")
    assert f"{len(own)} of the CLOSE_WAIT are netmedic's own connections of this run" in text


def test_another_clients_close_wait_sockets_are_still_a_leak(sleeper: Sleeper) -> None:
    tcp = _connects(sleeper.port)
    assert isinstance(tcp.data, TcpData)
    ours = len(set(tcp.data.own_sources))
    # Another client (the test's own sockets, not netmedic's) connects and hangs up.
    for _ in range(12):
        with socket.create_connection(("127.0.0.1", sleeper.port)):
            pass
    data = _look(sleeper.port, ours + 12)
    text = _text(_diagnose(sleeper.port, data, tcp), "local.close_wait")
    assert text.startswith(f"12 connections on port {sleeper.port} are stuck in CLOSE_WAIT")
    assert f"{ours} of them are netmedic's own connections of this run, not counted" in text


def test_a_second_look_counts_only_the_sockets_that_stayed(sleeper: Sleeper) -> None:
    """A bounded run's second look: sockets newer than the first are a slow answer's
    as much as a leak's, and are not counted; the ones that stayed are."""
    for _ in range(11):
        with socket.create_connection(("127.0.0.1", sleeper.port)):
            pass
    first = _look(sleeper.port, 11)
    for _ in range(15):  # come after the first look
        with socket.create_connection(("127.0.0.1", sleeper.port)):
            pass
    second = _look(sleeper.port, 26)
    since = 2.5
    view = replace(
        second.target,
        close_wait_ends=carry_over(
            first.target.close_wait_ends, second.target.close_wait_ends, since
        ),
    )
    again = replace(second, target=view, since_previous_s=since)
    text = _text(_diagnose(sleeper.port, again), "local.close_wait")
    assert text.startswith(f"11 connections on port {sleeper.port} are stuck in CLOSE_WAIT")
    assert "15 CLOSE_WAIT sockets of other clients were not there at the first look 2.5 s" in text
    assert "11 of them were in CLOSE_WAIT already at the first look, 2.5 s earlier" in text


def test_own_ends_come_from_every_probe_that_records_them() -> None:
    """The TCP attempts' sources and repeats', parsed, IPv6 and mapped forms alike."""
    from probes.wire.connect import OPEN, TcpAttempt

    attempt = TcpAttempt(
        "::1", 6, 80, OPEN, 0.01, source="[::1]:40000", repeat_sources=("[::1]:40001",)
    )
    results = {"tcp": ProbeResult("tcp", Status.OK, 0.1, "", TcpData(80, (attempt,)))}
    ev = Evidence(parse_target("[::1]:80"), results)
    assert own_ends(ev) == {("::1", 40000), ("::1", 40001)}
    assert parse_endpoint("[::ffff:127.0.0.1]:5") == ("127.0.0.1", 5)
    assert ConnEnd("127.0.0.1", 5).key == ("127.0.0.1", 5)


def test_the_sampler_records_its_connections_local_ends(sleeper: Sleeper) -> None:
    from probes.core.context import ProbeConfig, ProbeContext
    from probes.proto.sampler import attempt

    ctx = ProbeContext(parse_target(f"127.0.0.1:{sleeper.port}"), ProbeConfig(timeout=2.0))
    one = asyncio.run(attempt(ctx, "127.0.0.1", "tcp", 1.0))
    end = parse_endpoint(one.source)
    assert end is not None and end[0] == "127.0.0.1" and end[1] != sleeper.port


def test_the_http_probe_records_the_connection_the_server_saw() -> None:
    from probes.proto.http import HttpData
    from tests.servers.base import ServerThread

    peers: list[tuple[str, int]] = []

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        host, port = writer.get_extra_info("peername")[:2]
        peers.append((host, port))
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
        await writer.drain()
        writer.close()

    st = ServerThread()
    try:
        port = st.serve(answer)
        the_run, _ = run(f"http://127.0.0.1:{port}/", ("http",), timeout=3.0)
    finally:
        st.close()
    data = the_run.results["http"].data
    assert isinstance(data, HttpData) and data.status == 200
    assert {parse_endpoint(s) for s in data.own_sources} == set(peers) != set()


def test_in_a_live_run_our_own_sockets_that_outlast_a_look_count(sleeper: Sleeper) -> None:
    """The server never closed our connections either: held from one live look to the
    next, they are a leak too."""
    tcp = _connects(sleeper.port)
    assert isinstance(tcp.data, TcpData)
    ours = len(set(tcp.data.own_sources))
    first = _look(sleeper.port, ours)
    assert "local.close_wait" not in [f.id for f in _diagnose(sleeper.port, first, tcp).findings]
    fresh = refresh_local(first, live=True).data
    assert isinstance(fresh, LocalData) and fresh.live and fresh.since_previous_s > 0
    assert all(e.held_s > 0 for e in fresh.target.close_wait_ends)
    text = _text(_diagnose(sleeper.port, fresh, tcp), "local.close_wait")
    assert text.startswith(f"{ours} connections on port {sleeper.port} are stuck in CLOSE_WAIT")


SLOW_S = 2.0  # the healthy slow server's think time


async def _answer_slowly(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Healthy but slow: reads the request (or the client's hang-up), thinks, answers,
    closes.  A client that hung up leaves a CLOSE_WAIT socket here for SLOW_S."""
    await reader.read(4096)
    await asyncio.sleep(SLOW_S)
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
    with contextlib.suppress(OSError):
        await writer.drain()
    writer.close()


def test_a_slow_servers_passing_close_wait_sockets_are_no_leak() -> None:
    """Other clients keep hanging up on a server that answers in 2 s (what 50 checks
    at once do): every look sees a dozen CLOSE_WAIT sockets, none of which stays.
    ``check`` looks a second time and calls none of it a leak."""
    from tests.probe_helpers import check_cli
    from tests.servers.base import ServerThread

    st = ServerThread()
    stop = threading.Event()

    def other_clients(port: int) -> None:
        while not stop.wait(0.15):
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port)):
                pass

    try:
        port = st.serve(_answer_slowly)
        clients = threading.Thread(target=other_clients, args=(port,), daemon=True)
        clients.start()
        threading.Event().wait(SLOW_S)  # the pile-up a look will see
        doc, _out, _err = check_cli("--timeout", "5", f"http://127.0.0.1:{port}/")
    finally:
        stop.set()
        st.close()
    ids = [f["id"] for f in doc["findings"]]
    assert "local.close_wait" not in ids, ids
    local = next(p for p in doc["probes"] if p["probe"] == "local")
    assert local["status"] == "ok", local
    # It took a second look (the first saw the pile-up) and counted what stayed: none.
    assert local["data"]["since_previous_s"] >= SLOW_S, local["data"]["since_previous_s"]
    assert doc["verdict"] in ("ok", "http.slow_response"), doc["verdict"]


def test_the_burst_and_identify_record_their_connections_local_ends(sleeper: Sleeper) -> None:
    from probes.core.context import ProbeConfig, ProbeContext
    from probes.proto.burst import burst
    from probes.proto.identify import _ask

    ctx = ProbeContext(parse_target(f"127.0.0.1:{sleeper.port}"), ProbeConfig(timeout=2.0))
    held = asyncio.run(burst(ctx, "127.0.0.1", 5, 1.0))
    assert held.opened == 5
    ends = {parse_endpoint(s) for s in held.own_sources}
    assert len(ends) == 5 and all(e is not None and e[1] != sleeper.port for e in ends)
    question = asyncio.run(_ask("127.0.0.1", sleeper.port, "127.0.0.1", "http", 0.2))
    assert question.outcome == "silent" and parse_endpoint(question.source) is not None


def test_a_pile_up_beyond_the_sample_counts_the_unrecorded_sockets() -> None:
    from probes.diagnosis.own_connections import left_out, split
    from probes.host.connends import ENDS_SAMPLE

    ends = [ConnEnd("127.0.0.1", 30000 + i) for i in range(ENDS_SAMPLE)]
    own = frozenset({("127.0.0.1", 30000), ("127.0.0.1", 30001), ("127.0.0.1", 30002)})
    s = split(ENDS_SAMPLE + 100, ends, own, 0.0)
    assert (s.counted, s.ours, s.sampled) == (ENDS_SAMPLE + 97, 3, True)
    lines = left_out("CLOSE_WAIT", s)
    assert lines[0] == "3 of them are netmedic's own connections of this run, not counted"
    assert "the rest are counted" in lines[-1]


def test_the_tls_probe_records_every_connection_the_server_saw(tmp_path: Path) -> None:
    from probes.proto.tls import TlsData
    from tests.servers.base import ServerThread
    from tests.servers.pki import Pki

    pki = Pki(tmp_path)
    peers: list[tuple[str, int]] = []

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        host, port = writer.get_extra_info("peername")[:2]
        peers.append((host, port))
        with contextlib.suppress(OSError):
            await reader.read(4096)
        writer.close()

    st = ServerThread()
    try:
        port = st.serve(answer, pki.server_context(pki.leaf()))
        the_run, _ = run(
            f"https://127.0.0.1:{port}/", ("tls",), "tls", ca_file=str(pki.ca_file), timeout=3.0
        )
        # The server's handler runs once its side of the handshake is done, which may be
        # after the probe has finished and closed: wait for it before stopping the server.
        deadline = time.monotonic() + 5
        while not peers and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        st.close()
    data = the_run.results["tls"].data
    assert isinstance(data, TlsData) and data.state == "ok", data
    assert {parse_endpoint(s) for s in data.own_sources} == set(peers) != set()


def test_the_service_probe_records_its_connection_even_unanswered() -> None:
    from probes.proto.service import ServiceData
    from tests.servers.base import ServerThread

    peers: list[tuple[str, int]] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        host, port = writer.get_extra_info("peername")[:2]
        peers.append((host, port))
        await reader.read()  # never answers; the probe's deadline ends it
        writer.close()

    st = ServerThread()
    try:
        port = st.serve(silent)
        the_run, _ = run(f"redis://127.0.0.1:{port}", ("service",), timeout=1.0)
    finally:
        st.close()
    data = the_run.results["service"].data
    assert isinstance(data, ServiceData) and data.state == "timeout", data
    assert {parse_endpoint(s) for s in data.own_sources} == set(peers) != set()


def test_the_websocket_probe_records_its_connection() -> None:
    from probes.proto.ws import WsData
    from tests.servers.base import ServerThread
    from tests.servers.httpserver import websocket

    st = ServerThread()
    try:
        port = st.serve(websocket)
        the_run, _ = run(f"ws://127.0.0.1:{port}/socket", ("ws",), "websocket", timeout=3.0)
    finally:
        st.close()
    data = the_run.results["ws"].data
    assert isinstance(data, WsData) and data.state == "ok", data
    (end,) = {parse_endpoint(s) for s in data.own_sources}
    assert end is not None and end[0] == "127.0.0.1" and end[1] != port
