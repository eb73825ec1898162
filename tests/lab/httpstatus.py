"""An HTTP server for lab tests: ``python -m tests.lab.httpstatus ADDR:PORT=STATUS[/DELAY] ...``.

Each endpoint answers every request with STATUS (and a Retry-After for 429/503, a
Basic challenge for 401), DELAY seconds after the request (default 0), then closes.
Prints "ready" once every socket listens.
"""

from __future__ import annotations

import asyncio
import sys
from http import HTTPStatus

_EXTRA = {
    401: b'WWW-Authenticate: Basic realm="lab"\r\n',
    429: b"Retry-After: 30\r\n",
    503: b"Retry-After: 120\r\n",
}


async def _answer(
    status: int, delay: float, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    try:
        await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        await asyncio.sleep(delay)  # the server's think time
        body = f"{status} from the lab\n".encode()
        head = (
            f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n"
        ).encode()
        writer.write(head + _EXTRA.get(status, b"") + b"\r\n" + body)
        await writer.drain()
    except (TimeoutError, ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
        pass
    finally:
        writer.close()


async def main(endpoints: list[str]) -> None:
    for spec in endpoints:
        endpoint, _, answer = spec.partition("=")
        status, _, delay = answer.partition("/")
        host, _, port = endpoint.rpartition(":")

        async def handler(
            r: asyncio.StreamReader,
            w: asyncio.StreamWriter,
            code: int = int(status),
            think: float = float(delay or 0),
        ) -> None:
            await _answer(code, think, r, w)

        await asyncio.start_server(handler, host.strip("[]"), int(port))
    print("ready", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
