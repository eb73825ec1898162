"""What each demo server does with a connection: one small asyncio handler per fault.

Every handler reads at most a capped request head, answers, and closes; a client
that says nothing is dropped after :data:`IDLE_S`.  Nothing here is fake: the
probes see real sockets, real TLS and real HTTP on loopback.
"""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import Awaitable, Callable

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]

IDLE_S = 10.0  # a client that sends nothing for this long is dropped
HEAD_LIMIT = 16 * 1024
SLOW_FIRST_BYTE_S = 3.5  # think time before the first byte (check's timeout is 5 s)
SSH_BANNER = b"SSH-2.0-OpenSSH_9.6 netmedic-demo\r\n"


def response(status: int, reason: str, headers: dict[str, str], body: bytes = b"") -> bytes:
    lines = [f"HTTP/1.1 {status} {reason}", "Server: netmedic-demo"]
    fields = {"Content-Length": str(len(body)), "Connection": "close", **headers}
    lines += [f"{name}: {value}" for name, value in fields.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii") + body


async def read_head(reader: asyncio.StreamReader) -> bytes:
    """The request head through the blank line (b"" when the client sends none)."""
    try:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), IDLE_S)
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError):
        return b""
    return head[:HEAD_LIMIT]


async def _answer(writer: asyncio.StreamWriter, data: bytes) -> None:
    writer.write(data)
    await writer.drain()


async def http_ok(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """A healthy HTTP server (the loopback-only service)."""
    if await read_head(reader):
        await _answer(writer, response(200, "OK", {"Content-Type": "text/plain"}, b"ok\n"))


async def unavailable(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """503 with Retry-After: the service is up but says it cannot serve now."""
    if await read_head(reader):
        body = b"maintenance: back in 30 s\n"
        headers = {"Retry-After": "30", "Content-Type": "text/plain"}
        await _answer(writer, response(503, "Service Unavailable", headers, body))


async def slow_first_byte(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Connects at once, then thinks for 3.5 s before the first byte of the answer."""
    if await read_head(reader):
        await asyncio.sleep(SLOW_FIRST_BYTE_S)
        await _answer(writer, response(200, "OK", {"Content-Type": "text/plain"}, b"done\n"))


async def reset_at_once(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Accepts the connection, then resets it (SO_LINGER 0: RST, not FIN)."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def no_upgrade(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """A WebSocket endpoint behind a proxy that drops ``Upgrade``: a page, not 101."""
    if await read_head(reader):
        body = b"<html><body>chat is served here</body></html>\n"
        await _answer(writer, response(200, "OK", {"Content-Type": "text/html"}, body))


async def cors_without_origin(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Answers the preflight with allowed methods but no Access-Control-Allow-Origin."""
    head = await read_head(reader)
    if not head:
        return
    if head.startswith(b"OPTIONS "):
        headers = {"Access-Control-Allow-Methods": "GET, POST", "Allow": "GET, POST, OPTIONS"}
        await _answer(writer, response(204, "No Content", headers))
        return
    body = b'{"items": []}\n'
    await _answer(writer, response(200, "OK", {"Content-Type": "application/json"}, body))


async def ssh_banner(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """An SSH server where the target expects HTTP: it speaks first, in SSH."""
    await _answer(writer, SSH_BANNER)
    try:
        await asyncio.wait_for(reader.read(HEAD_LIMIT), IDLE_S)
    except TimeoutError:
        return
    await _answer(writer, b"Invalid SSH identification string.\r\n")
