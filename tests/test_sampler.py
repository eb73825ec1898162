"""The connection sampler against real loopback servers."""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import AsyncIterator

import pytest

from probes.core.context import ProbeConfig, ProbeContext
from probes.core.target import parse_target
from probes.proto.sampler import RESET, SamplerData, probe_connections


async def _reset_every_other() -> AsyncIterator[int]:
    served = 0

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal served
        served += 1
        if served % 2 == 0:
            sock = writer.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()  # RST
            return
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


async def _sample(url: str, **config: object) -> SamplerData:
    ctx = ProbeContext(parse_target(url), ProbeConfig(timeout=2.0, **config))  # type: ignore[arg-type]
    last = None
    async for result in probe_connections(ctx):
        last = result
    assert last is not None and last.final and isinstance(last.data, SamplerData)
    return last.data


@pytest.mark.asyncio
async def test_sampler_sees_half_the_connections_reset() -> None:
    async for port in _reset_every_other():
        data = await _sample(f"http://127.0.0.1:{port}/", sample_interval=0.05, sample_count=20)
        assert data.sent == 20
        assert 40 <= data.rate(RESET) <= 60
        assert data.rate("ok") >= 40
        assert data.connect.p50_s is not None and data.first_byte.max_s is not None
        assert "% reset" in data.status_line()


@pytest.mark.asyncio
async def test_sampler_refused() -> None:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # nothing listens there now
    data = await _sample(f"127.0.0.1:{port}", sample_interval=0.05, sample_count=3)
    assert data.rate("refused") == 100
