"""WebSocket stand-ins that speak frames after the 101: an echo server that answers
pings, a tunnel that closes at once with a close code (1008 "Invalid API key"),
one that cuts the connection after an idle time, one that never answers pings, and
an upgrade refused with a body."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import struct

from tests.servers.base import Handler, read_head, response
from tests.servers.httpserver import WS_GUID, parse_head

CLOSE, PING, PONG = 0x8, 0x9, 0xA


def server_frame(opcode: int, payload: bytes = b"") -> bytes:
    """An unmasked server frame (payload < 126 bytes)."""
    return struct.pack("!BB", 0x80 | opcode, len(payload)) + payload


async def read_client_frame(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    first, second = await reader.readexactly(2)
    length = second & 0x7F
    if length == 126:
        length = struct.unpack("!H", await reader.readexactly(2))[0]
    mask = await reader.readexactly(4)
    data = await reader.readexactly(length)
    return first & 0x0F, bytes(b ^ mask[i % 4] for i, b in enumerate(data))


async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    _, _, headers = parse_head(await read_head(reader))
    if headers.get("upgrade", "").lower() != "websocket":
        writer.write(response(426, "Upgrade Required", {"Upgrade": "websocket"}, b"upgrade\n"))
        await writer.drain()
        raise ConnectionError("not an upgrade")
    key = headers.get("sec-websocket-key", "")
    digest = base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()
    writer.write(
        (
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Accept: {digest}\r\n\r\n"
        ).encode()
    )
    await writer.drain()


def echo(answer_pings: bool = True) -> Handler:
    """101, then pongs for pings (unless told not to) until the client closes."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await accept(reader, writer)
        while True:
            opcode, data = await asyncio.wait_for(read_client_frame(reader), 30)
            if opcode == PING and answer_pings:
                writer.write(server_frame(PONG, data))
            elif opcode == CLOSE:
                writer.write(server_frame(CLOSE, data[:2]))
                await writer.drain()
                return
            await writer.drain()

    return handle


def close_at_once(code: int, reason: str) -> Handler:
    """101, then a close frame straight away (a tunnel refusing the key)."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await accept(reader, writer)
        writer.write(server_frame(CLOSE, struct.pack("!H", code) + reason.encode()))
        await writer.drain()
        await asyncio.sleep(0.2)

    return handle


def idle_cut(after: float) -> Handler:
    """Answers pings; drops the TCP connection after *after* seconds without client
    frames (an intermediary's idle timeout: no close frame)."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await accept(reader, writer)
        while True:
            try:
                opcode, data = await asyncio.wait_for(read_client_frame(reader), after)
            except TimeoutError:
                return  # the connection is closed by the guard: FIN, no close frame
            if opcode == PING:
                writer.write(server_frame(PONG, data))
                await writer.drain()
            elif opcode == CLOSE:
                return

    return handle


def refused(code: int, reason: str, body: bytes) -> Handler:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_head(reader)
        writer.write(response(code, reason, {"Content-Type": "text/plain"}, body))
        await writer.drain()

    return handle
