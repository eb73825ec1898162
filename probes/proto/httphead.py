"""One HTTP/1.1 request and its response head, nothing more.

The proxy probe (``CONNECT`` or an absolute-form ``GET``) and the WebSocket probe
(the upgrade) only need the status line and a few headers; the HTTP probe,
which needs bodies, redirects and timings, uses httpx instead.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from probes.core.sanitize import clean_text


class NotHttp(ValueError):
    """The answer does not start with an HTTP status line; ``str()`` is that line, cleaned."""


@dataclass(frozen=True, slots=True)
class ResponseHead:
    status: int
    reason: str
    headers: tuple[tuple[str, str], ...]  # (lower-cased name, cleaned value), as received

    def get(self, name: str) -> str:
        """The last value of header *name* (lower-case), or ""."""
        found = [value for key, value in self.headers if key == name]
        return found[-1] if found else ""


async def exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> bytes:
    """Send *request*, return the response head (through the blank line), close."""
    try:
        writer.write(request)
        await writer.drain()
        return await reader.readuntil(b"\r\n\r\n")
    finally:
        writer.close()


def parse_head(head: bytes) -> ResponseHead:
    """Status, reason and headers of a response head; remote text is cleaned."""
    status_line, *lines = head.decode("latin-1").split("\r\n")
    bits = status_line.split(" ", 2)
    try:
        status = int(bits[1])
    except (IndexError, ValueError):
        raise NotHttp(clean_text(status_line, 80)) from None
    headers = []
    for line in lines:
        name, sep, value = line.partition(":")
        if sep:
            headers.append((name.strip().lower(), clean_text(value.strip(), 200)))
    return ResponseHead(status, clean_text(bits[2] if len(bits) > 2 else "", 80), tuple(headers))
