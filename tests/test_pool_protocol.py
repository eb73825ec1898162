"""The sampler and the burst speak PostgreSQL: a pool's slots are taken at the
StartupMessage, so a full pool is seen only by a client that logs in."""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest

from probes.core.context import ProbeConfig
from probes.core.target import parse_target
from probes.proto.burst import BurstResult
from probes.proto.pghello import pg_hello
from probes.proto.sampler import SamplerData
from probes.run.runner import Run, run_to_end
from tests.probe_helpers import evidence, run
from tests.servers.base import server_thread
from tests.servers.pgserver import pg_pool

SLOTS = 5


@pytest.fixture
def pool() -> Iterator[int]:
    with server_thread() as servers:
        yield servers.serve(pg_pool(SLOTS))


def _session(port: int) -> socket.socket:
    """A client holding one slot: startup (no SSL: the stand-in answers N), ReadyForQuery."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    params = b"user\0app\0database\0appdb\0\0"
    sock.sendall(struct.pack("!II", 8 + len(params), 196608) + params)
    got = b""
    while b"Z\x00\x00\x00\x05I" not in got:
        chunk = sock.recv(1024)
        assert chunk, got
        got += chunk
    return sock


@pytest.fixture
def four_of_five(pool: int) -> Iterator[int]:
    held = [_session(pool) for _ in range(SLOTS - 1)]
    try:
        yield pool
    finally:
        for sock in held:
            sock.close()


def test_the_burst_logs_in_and_finds_the_one_free_slot(four_of_five: int) -> None:
    the_run, diagnosis = run(f"postgres://app@127.0.0.1:{four_of_five}/appdb", ("burst",), burst=10)
    b = the_run.results["burst"].data
    assert isinstance(b, BurstResult)
    assert b.opened == 1 and b.failure == "service error", b.line
    assert "53300: sorry, too many clients already" in b.said
    assert diagnosis.verdict == "service.too_many_connections"
    assert "accepts 1 connections at once" in evidence(diagnosis, "service.too_many_connections")


def test_bare_tcp_connections_take_no_slot(four_of_five: int) -> None:
    """The same pool read as plain TCP (what the burst did before): no limit reached."""
    the_run, _ = run(f"tcp://127.0.0.1:{four_of_five}", ("burst",), burst=10)
    b = the_run.results["burst"].data
    assert isinstance(b, BurstResult) and b.opened == 10 and b.line.endswith("no limit reached")


def test_the_sampler_is_turned_away_by_a_full_pool(pool: int) -> None:
    held = [_session(pool) for _ in range(SLOTS)]
    try:
        the_run, diagnosis = run(
            f"postgres://app@127.0.0.1:{pool}/appdb",
            ("connections",),
            sample_count=3,
            sample_interval=0.05,
        )
    finally:
        for sock in held:
            sock.close()
    data = the_run.results["connections"].data
    assert isinstance(data, SamplerData) and data.speaks == "postgres"
    assert dict(data.kinds) == {"service error": 3}
    assert diagnosis.verdict == "service.too_many_connections"
    assert "53300: sorry, too many clients already" in evidence(
        diagnosis, "service.too_many_connections"
    )


def test_the_sampler_logs_in_and_asks_select_1(pool: int) -> None:
    the_run, diagnosis = run(
        f"postgres://app@127.0.0.1:{pool}/appdb",
        ("connections",),
        sample_count=3,
        sample_interval=0.05,
    )
    data = the_run.results["connections"].data
    assert isinstance(data, SamplerData) and dict(data.kinds) == {"ok": 3}
    assert all(a.detail == "SELECT 1 answered" for a in data.recent)
    assert diagnosis.verdict == "ok"


def test_a_real_postgres_at_4_of_5_slots_is_seen_by_the_burst(tmp_path: Path) -> None:
    from tests.servers.pki import Pki
    from tests.servers.services import postgres_server, postgres_unavailable

    reason = postgres_unavailable()
    if reason:
        pytest.skip(reason)
    leaf = Pki(tmp_path).leaf()
    chain = b"".join(p.bytes() for p in leaf.cert_chain_pems)
    sql = "SET password_encryption = 'scram-sha-256';\n\nCREATE ROLE app LOGIN PASSWORD 'pw-5';\n\n"

    async def scenario(port: int) -> tuple[BurstResult, str]:
        url = f"postgres://app:pw-5@127.0.0.1:{port}/postgres"
        t = parse_target(url)
        held = []
        for _ in range(SLOTS - 1):  # four clients logged in and holding their slots
            for _attempt in range(100):  # the port listens before the server takes clients
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                admitted, detail = await pg_hello(t, reader, writer)
                if not detail.startswith("57P03"):
                    break
                writer.close()
                await asyncio.sleep(0.1)
            assert admitted, detail
            held.append(writer)
        try:
            the_run = Run(
                t, "too-many-connections", ProbeConfig(burst=10, timeout=5), plan=("burst",)
            )
            diagnosis = await run_to_end(the_run)
        finally:
            for writer in held:
                writer.close()
        data = the_run.results["burst"].data
        assert isinstance(data, BurstResult)
        return data, diagnosis.verdict

    settings = ("max_connections=5", "superuser_reserved_connections=0")
    with postgres_server(
        chain, leaf.private_key_pem.bytes(), setup_sql=sql, settings=settings
    ) as port:
        b, verdict = asyncio.run(scenario(port))
    assert b.opened == 1 and b.failure == "service error", b.line
    assert "53300" in b.said and "too many clients" in b.said
    assert verdict == "service.too_many_connections"
