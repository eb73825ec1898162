"""asyncio HTTP-ish servers for the HTTP, proxy, WebSocket and CORS probes."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable

from tests.servers.base import Handler, read_head, response

WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def parse_head(head: bytes) -> tuple[str, str, dict[str, str]]:
    lines = head.decode("latin-1").split("\r\n")
    method, target, _ = ([*lines[0].split(" ", 2), "", ""])[:3]
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if ":" in line:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
    return method, target, headers


def status(code: int, reason: str, headers: dict[str, str] | None = None) -> Handler:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_head(reader)
        writer.write(response(code, reason, {"Server": "lab", **(headers or {})}, b"status\n"))
        await writer.drain()

    return handle


def reflect_401(reader_header: str) -> Handler:
    """401 whose challenge reflects a request header: tests that secrets are scrubbed."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        _, _, headers = parse_head(await read_head(reader))
        value = headers.get(reader_header, "none")
        challenge = f'Bearer realm="lab", error="invalid_token", got="{value}"'
        writer.write(response(401, "Unauthorized", {"WWW-Authenticate": challenge}))
        await writer.drain()

    return handle


async def redirect_loop(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    _, path, _ = parse_head(await read_head(reader))
    nxt = "/b" if path != "/b" else "/a"
    writer.write(response(302, "Found", {"Location": nxt}))
    await writer.drain()


async def hang(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await read_head(reader)
    await asyncio.sleep(60)


async def drip(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await read_head(reader)
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
    for _ in range(1000):
        writer.write(b".")
        await writer.drain()
        await asyncio.sleep(1)


async def ssh(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"SSH-2.0-OpenSSH_9.6 lab\r\n")
    await writer.drain()
    await asyncio.wait_for(reader.read(1024), 5)


def proxy(user: str, password: str) -> Handler:
    """A forward proxy that wants Basic auth; with it, answers 200 itself."""
    expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        _, _, headers = parse_head(await read_head(reader))
        if headers.get("proxy-authorization") != expected:
            writer.write(
                response(
                    407,
                    "Proxy Authentication Required",
                    {"Proxy-Authenticate": 'Basic realm="lab-proxy"'},
                )
            )
        else:
            writer.write(response(200, "OK", {"Via": "1.1 lab-proxy"}, b"proxied\n"))
        await writer.drain()

    return handle


async def websocket(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """101 and a real WebSocket after it (pings answered): tests.servers.wsserver."""
    from tests.servers.wsserver import echo

    await echo()(reader, writer)


def cors(allowed_origin: str, allowed_methods: str = "GET", allowed_headers: str = "") -> Handler:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        method, _, headers = parse_head(await read_head(reader))
        extra = {"Vary": "Origin"}
        if headers.get("origin") == allowed_origin:
            extra["Access-Control-Allow-Origin"] = allowed_origin
            extra["Access-Control-Allow-Methods"] = allowed_methods
            if allowed_headers:
                extra["Access-Control-Allow-Headers"] = allowed_headers
        code, reason = (204, "No Content") if method == "OPTIONS" else (200, "OK")
        writer.write(response(code, reason, extra))
        await writer.drain()

    return handle


def _rst(writer: asyncio.StreamWriter) -> None:
    """Close with a reset (RST) instead of a FIN: SO_LINGER 0, then abort."""
    import socket
    import struct

    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def reset_at_once(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    _rst(writer)


async def close_before_request(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.close()


async def reset_after_request(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await read_head(reader)
    _rst(writer)


def every_other_reset() -> Handler:
    """Reset connections 0, 2, 4...; answer 200 on 1, 3, 5... (a flapping backend)."""
    count = 0

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal count
        mine, count = count, count + 1
        if mine % 2 == 0:
            _rst(writer)
            return
        await read_head(reader)
        writer.write(response(200, "OK", {"Server": "lab"}, b"ok\n"))
        await writer.drain()

    return handle


def status_by_count(status_of: Callable[[int], int]) -> Handler:
    """Answer request n (from 1) with the status status_of(n) (a flaky backend)."""
    count = 0

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal count
        count += 1
        code = status_of(count)
        await read_head(reader)
        reason = {200: "OK", 503: "Service Unavailable"}.get(code, "Error")
        writer.write(response(code, reason, {"Retry-After": "5"}))
        await writer.drain()

    return handle


def raw_answer(head: bytes) -> Handler:
    """Answer every request with *head* as is (malformed responses)."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_head(reader)
        writer.write(head)
        await writer.drain()

    return handle


def redirect_to(location: str) -> Handler:
    return status(302, "Found", {"Location": location})


def slow_first_byte(delay: float) -> Handler:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_head(reader)
        await asyncio.sleep(delay)
        writer.write(response(200, "OK", {"Server": "lab"}, b"ok\n"))
        await writer.drain()

    return handle
