"""Faulty and hostile servers for the reliability suite, run inside a lab namespace.

``python -m tests.reliability.faultservers`` listens on 127.0.0.1 at the ports of
:data:`PORTS` (the namespace is the test's own, so fixed ports are free), prints
"ready" and serves until killed:

- ``slow``: reads the request, answers ``200`` only after :data:`SLOW_S` seconds;
- ``reset``: accepts, then closes with a RST (SO_LINGER 0) at once;
- ``hostile``: answers HTTP with terminal escapes (OSC 52 clipboard write, OSC 0
  title, ``ESC c`` reset, C1 CSI, U+202E) in the status line, headers and body,
  100 KB of headers, then an endless body.

``refused`` has no listener; ``blackhole`` has one, but the namespace's nftables drop
every packet to it.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import Awaitable, Callable

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]

PORTS = {"slow": 8001, "reset": 8002, "hostile": 8003, "refused": 8004, "blackhole": 8005}
SLOW_S = 3.0
ESCAPES = "\x1b]52;c;Y2FuYXJ5\x07\x1b]0;pwned\x07\x1bc\x9b2J\u202eevil"

BLACKHOLE_RULES = f"""
table inet reliability {{
  chain input {{
    type filter hook input priority 0; policy accept;
    tcp dport {PORTS["blackhole"]} drop
  }}
}}
"""


async def _slow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.read(4096)
    await asyncio.sleep(SLOW_S)
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
    await writer.drain()


async def _reset(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def _hostile(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.read(4096)
    esc = ESCAPES.encode("utf-8")
    head = b"HTTP/1.1 503 " + esc + b"\r\nServer: " + esc + b"\r\n"
    head += b"".join(b"X-Pad-%d: %s\r\n" % (i, b"a" * 90) for i in range(1100))  # ~100 KB
    writer.write(head + b"Content-Type: text/plain\r\n\r\n")
    while True:  # an endless body
        writer.write(esc * 100)
        await writer.drain()
        await asyncio.sleep(0.01)


async def main() -> None:
    handlers = (("slow", _slow), ("reset", _reset), ("hostile", _hostile), ("blackhole", _slow))
    for name, handler in handlers:
        await asyncio.start_server(_guard(handler), "127.0.0.1", PORTS[name])
    print("ready", flush=True)
    await asyncio.Event().wait()


def _guard(handler: Handler) -> Handler:
    async def run(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.CancelledError):
            await handler(reader, writer)
        with contextlib.suppress(OSError):
            writer.close()

    return run


if __name__ == "__main__":
    asyncio.run(main())
