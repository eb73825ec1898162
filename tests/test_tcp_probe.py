"""The TCP probe against real loopback sockets."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import pytest

from probes.core.context import ProbeConfig
from probes.core.target import parse_target
from probes.net.tcp import OPEN, REFUSED, TcpData, connect_once
from probes.run.runner import Run, run_to_end
from probes.wire.banner import identify


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def banner_server() -> AsyncIterator[int]:
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"SSH-2.0-OpenSSH_9.2p1 \x1b[31mred\x1b[0m\r\n")
        await writer.drain()
        await reader.read(100)
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()


@pytest.fixture
async def hangup_server() -> AsyncIterator[int]:
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        writer.close()  # linger 0: the close sends a reset

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()


async def test_closed_port_is_refused() -> None:
    attempt = await connect_once("127.0.0.1", free_port(), 2.0, 0.2)
    assert attempt.state == REFUSED
    assert attempt.errno_name == "ECONNREFUSED"


async def test_open_port_names_protocol_and_cleans_banner(banner_server: int) -> None:
    attempt = await connect_once("127.0.0.1", banner_server, 2.0, 0.5)
    assert attempt.state == OPEN
    assert attempt.protocol == "SSH"
    assert "\x1b" not in attempt.banner
    assert attempt.banner.startswith("SSH-2.0-OpenSSH_9.2p1")


async def test_reset_after_connect(hangup_server: int) -> None:
    run = Run(
        parse_target(f"127.0.0.1:{hangup_server}"), "refused", ProbeConfig(timeout=2), plan=("tcp",)
    )
    diagnosis = await run_to_end(run)
    assert diagnosis.verdict == "tcp.reset_after_connect"
    data = run.results["tcp"].data
    assert isinstance(data, TcpData)
    assert data.attempts[0].closed_by_peer in ("reset", "eof")


async def test_ipv6_loopback() -> None:
    try:
        listener = socket.create_server(("::1", 0), family=socket.AF_INET6)
    except OSError:
        pytest.skip("no IPv6 loopback")
    with listener:
        port = listener.getsockname()[1]
        attempt = await connect_once("::1", port, 2.0, 0.1)
    assert attempt.state == OPEN and attempt.family == 6


@pytest.mark.parametrize(
    ("data", "name"),
    [
        (b"SSH-2.0-x\r\n", "SSH"),
        (b"HTTP/1.1 400 Bad Request\r\n", "HTTP"),
        (b"220 mail.example.com ESMTP Postfix\r\n", "SMTP"),
        (b"-ERR unknown command\r\n", "Redis"),
        (b"-NOAUTH Authentication required.\r\n", "Redis"),
        (b"\x15\x03\x03\x00\x02\x02\x32", "TLS (alert)"),
        (b"\x16\x03\x01\x00\x05", "TLS"),
        (b"+OK POP3 ready\r\n", "POP3"),
        (b"* OK IMAP4rev1\r\n", "IMAP"),
        (b"E\x00\x00\x00\x54SFATAL", "PostgreSQL"),
        (b"", None),
        (b"\x00\x01random", None),
    ],
)
def test_identify(data: bytes, name: str | None) -> None:
    assert identify(data) == name
