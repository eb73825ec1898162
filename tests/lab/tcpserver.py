"""A TCP listener for lab tests: ``python -m tests.lab.tcpserver BANNER ADDR:PORT...``.

Accepts on every address given, sends BANNER (may be empty) and holds each
connection for a few seconds.  Prints "ready" once every socket listens.
"""

from __future__ import annotations

import asyncio
import sys


async def _serve(banner: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        if banner:
            writer.write(banner)
            await writer.drain()
        await asyncio.wait_for(reader.read(1024), 5)
    except (TimeoutError, ConnectionError):
        pass
    finally:
        writer.close()


async def main(banner: bytes, endpoints: list[str]) -> None:
    for endpoint in endpoints:
        host, _, port = endpoint.rpartition(":")
        host = host.strip("[]")
        await asyncio.start_server(lambda r, w: _serve(banner, r, w), host, int(port))
    print("ready", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1].encode().decode("unicode_escape").encode("latin-1"), sys.argv[2:]))
