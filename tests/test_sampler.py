"""The connection sampler against real loopback servers."""

from __future__ import annotations

import asyncio
import socket

import pytest

from probes.core.context import ProbeConfig, ProbeContext
from probes.core.model import ProbeError, ProbeResult, Status
from probes.core.target import parse_target
from probes.diagnosis import diagnose
from probes.proto.sampler import RESET, SamplerData, probe_connections
from tests.servers.base import Handler, loopback, read_head
from tests.servers.httpserver import every_other_reset, parse_head


async def _sample(url: str, **config: object) -> SamplerData:
    ctx = ProbeContext(parse_target(url), ProbeConfig(timeout=2.0, **config))  # type: ignore[arg-type]
    last = None
    async for result in probe_connections(ctx):
        last = result
    assert last is not None and last.final and isinstance(last.data, SamplerData)
    return last.data


@pytest.mark.asyncio
async def test_sampler_sees_half_the_connections_reset() -> None:
    async with loopback(every_other_reset()) as port:
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


def _answering(first: bytes) -> Handler:
    """Reads a request, answers *first*, closes."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1024)
        writer.write(first)
        await writer.drain()

    return handle


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("url", "answer"),
    [
        (
            "http://127.0.0.1:{port}/",
            b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n",
        ),
        ("http://127.0.0.1:{port}/", b"HTTP/1.1 501 Not Implemented\r\nContent-Length: 0\r\n\r\n"),
        ("redis://127.0.0.1:{port}", b"-NOAUTH Authentication required.\r\n"),
    ],
)
async def test_a_service_that_answers_our_probe_request_is_up(url: str, answer: bytes) -> None:
    """HEAD and an unauthenticated PING are our choices: a server that says it does not
    take them is up (the http and service probes judge the real request)."""
    async with loopback(_answering(answer)) as port:
        data = await _sample(url.format(port=port), sample_interval=0.05, sample_count=3)
        assert data.rate("ok") == 100 and data.failed == 0


@pytest.mark.asyncio
async def test_a_tls_failure_says_so_not_an_errno() -> None:
    """https:// to a plain HTTP port: the handshake fails (its SSL code is no errno)."""
    async with loopback(_answering(b"HTTP/1.1 400 Bad Request\r\n\r\n")) as port:
        url = f"https://127.0.0.1:{port}/"
        data = await _sample(url, sample_interval=0.05, sample_count=3)
    assert data.rate("error") == 100
    assert data.recent[-1].detail.startswith("TLS: ") and "EPERM" not in data.recent[-1].detail
    result = ProbeResult("connections", Status.FAILED, 0.1, "x", data, ProbeError("ERROR", "x"))
    diagnosis = diagnose(parse_target(url), {"connections": result})
    assert diagnosis.verdict == "tls.handshake_failed"


def _key_checked(answer_without: bytes) -> tuple[Handler, list[dict[str, str]]]:
    """200 when the request carries ``X-Key: k1``, else *answer_without*; keeps the heads."""
    heads: list[dict[str, str]] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        _method, _path, headers = parse_head(await read_head(reader))
        heads.append(headers)
        fine = headers.get("x-key") == "k1"
        writer.write(b"HTTP/1.1 200 OK\r\n\r\n" if fine else answer_without)
        await writer.drain()

    return handle, heads


@pytest.mark.asyncio
async def test_the_configured_headers_go_with_every_request() -> None:
    """A saved service's API key (``watch @NAME``): without it every attempt is a 401."""
    handle, heads = _key_checked(b"HTTP/1.1 401 Unauthorized\r\n\r\n")
    async with loopback(handle) as port:
        url = f"http://127.0.0.1:{port}/healthz"
        keyed = await _sample(url, sample_interval=0.05, sample_count=3, headers=(("X-Key", "k1"),))
        bare = await _sample(url, sample_interval=0.05, sample_count=3)
    assert keyed.rate("ok") == 100 and bare.rate("status 401") == 100
    assert [h.get("x-key") for h in heads] == ["k1"] * 3 + [None] * 3


@pytest.mark.asyncio
async def test_the_status_a_saved_service_expects_is_an_answer() -> None:
    handle, _heads = _key_checked(b"HTTP/1.1 404 Not Found\r\n\r\n")
    async with loopback(handle) as port:
        url = f"http://127.0.0.1:{port}/gone"
        expected = await _sample(url, sample_interval=0.05, sample_count=3, expect_status=404)
        unexpected = await _sample(url, sample_interval=0.05, sample_count=3)
    assert expected.rate("ok") == 100 and expected.failed == 0
    assert unexpected.rate("status 404") == 100
