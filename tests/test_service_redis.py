"""Redis beyond PING: the limits INFO reveals, against a RESP stand-in and a real redis-server."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from tests.probe_helpers import evidence, run
from tests.servers.base import ServerThread, server_thread
from tests.servers.services import redis_server, redis_unavailable, resp_server


@pytest.fixture(scope="module")
def st() -> Iterator[ServerThread]:
    with server_thread() as s:
        yield s


@pytest.mark.parametrize(
    ("info", "verdict", "needles"),
    [
        (
            {"used_memory": "104857600", "maxmemory": "104857600", "maxmemory_policy": "noeviction"},
            "service.memory_full",
            ("100.0 MiB of 100.0 MiB", "-OOM"),
        ),
        (
            {"used_memory": "99000000", "maxmemory": "100000000", "maxmemory_policy": "allkeys-lru"},
            "service.memory_full",
            ("evicted (allkeys-lru)",),
        ),
        (
            {"connected_clients": "9500", "maxclients": "10000"},
            "service.connections_near_limit",
            ("9500 of 10000", "95 %"),
        ),
        (
            {"role": "slave", "master_host": "10.0.0.5", "master_port": "6379",
             "master_link_status": "down"},
            "service.read_only",
            ("replica of 10.0.0.5:6379", "link down", "-READONLY"),
        ),
        (
            {"rdb_last_bgsave_status": "err", "aof_last_write_status": "ok"},
            "service.persistence_failed",
            ("rdb_last_bgsave_status: err", "-MISCONF"),
        ),
        ({"connected_clients": "3", "maxclients": "10000", "used_memory": "1000",
          "maxmemory": "0"}, "ok", ("connected_clients: 3",)),
    ],
)  # fmt: skip
def test_info_limits(
    st: ServerThread, info: dict[str, str], verdict: str, needles: tuple[str, ...]
) -> None:
    port = st.serve(resp_server(info))
    _, diagnosis = run(f"redis://127.0.0.1:{port}", ("service",), "service-down")
    assert diagnosis.verdict == verdict, [f.id for f in diagnosis.findings]
    text = evidence(diagnosis, verdict if verdict != "ok" else "service.ok")
    for needle in needles:
        assert needle in text, text


def test_max_clients_greeting(st: ServerThread) -> None:
    port = st.serve(resp_server(greeting=b"-ERR max number of clients reached\r\n"))
    _, diagnosis = run(f"redis://127.0.0.1:{port}", ("service",), "too-many-connections")
    assert diagnosis.verdict == "service.too_many_connections"
    assert "max number of clients reached" in evidence(diagnosis, "service.too_many_connections")


def test_a_server_that_never_answers(st: ServerThread) -> None:
    port = st.serve(resp_server(silent=True))
    _, diagnosis = run(f"redis://127.0.0.1:{port}", ("service",), "service-down", timeout=1.0)
    assert diagnosis.verdict == "service.unavailable"
    assert "does not answer its protocol in time" in evidence(diagnosis, "service.unavailable")


def _client(port: int) -> socket.socket:
    """A connection redis-server has accepted (the start-up check's own connection may
    still count for a moment: retry until PING is answered)."""
    for _ in range(50):
        s = socket.create_connection(("127.0.0.1", port), 5)
        s.sendall(b"PING\r\n")
        if s.recv(64).startswith(b"+PONG"):
            return s
        s.close()
        import time

        time.sleep(0.05)
    raise AssertionError("redis-server does not accept a client")


def test_real_redis_at_maxclients() -> None:
    reason = redis_unavailable()
    if reason:
        pytest.skip(reason)
    with redis_server(maxclients=2) as port:
        held = [_client(port), _client(port)]
        try:
            _, full = run(f"redis://127.0.0.1:{port}", ("service",), "too-many-connections")
            held.pop().close()
            import time

            time.sleep(0.2)  # the server notices the close (no wall-clock assertion)
            _, near = run(f"redis://127.0.0.1:{port}", ("service",), "too-many-connections")
        finally:
            for s in held:
                s.close()
    assert full.verdict == "service.too_many_connections"
    assert near.verdict == "service.connections_near_limit"
    assert "2 of 2 in use" in evidence(near, "service.connections_near_limit")
