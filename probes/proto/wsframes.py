"""RFC 6455 frames, just enough to watch a WebSocket after the upgrade.

Client frames are masked (the RFC requires it); server frames are not.  A close
frame carries a 2-byte code and a UTF-8 reason.  Frame payloads are capped: this
reads control frames and skips data, it is not a WebSocket client library.
"""

from __future__ import annotations

import asyncio
import os
import struct
from dataclasses import dataclass

CONTINUATION, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
MAX_PAYLOAD = 64 * 1024

# Close codes a person should be able to read (RFC 6455 7.4.1, and the 4000s).
CLOSE_CODES = {
    1000: "normal closure",
    1001: "going away",
    1002: "protocol error",
    1003: "unsupported data",
    1006: "closed without a close frame",
    1007: "invalid payload",
    1008: "policy violation (often: authentication or origin refused)",
    1009: "message too big",
    1011: "server error",
    1012: "service restart",
    1013: "try again later (overloaded)",
    1014: "bad gateway",
}


@dataclass(frozen=True, slots=True)
class Frame:
    opcode: int
    payload: bytes

    @property
    def close_code(self) -> int:
        return struct.unpack("!H", self.payload[:2])[0] if len(self.payload) >= 2 else 1005

    @property
    def close_reason(self) -> bytes:
        return self.payload[2:]


def encode(opcode: int, payload: bytes = b"") -> bytes:
    """One masked, final client frame."""
    mask = os.urandom(4)
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
    elif n < 65536:
        head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return head + mask + masked


def close_frame(code: int = 1000, reason: bytes = b"") -> bytes:
    return encode(CLOSE, struct.pack("!H", code) + reason[:120])


async def read_frame(reader: asyncio.StreamReader) -> Frame:
    """The next frame (IncompleteReadError at EOF)."""
    first, second = await reader.readexactly(2)
    length = second & 0x7F
    if length == 126:
        length = struct.unpack("!H", await reader.readexactly(2))[0]
    elif length == 127:
        length = struct.unpack("!Q", await reader.readexactly(8))[0]
    mask = await reader.readexactly(4) if second & 0x80 else b""
    keep = min(length, MAX_PAYLOAD)
    payload = await reader.readexactly(keep)
    skip = length - keep
    while skip > 0:
        skip -= len(await reader.readexactly(min(skip, 65536)))
    if mask:
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return Frame(first & 0x0F, payload)
