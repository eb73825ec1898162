"""Loopback servers for probe tests: an asyncio loop on a background thread.

Tests (sync or async) and ``netmedic check`` subprocesses connect to the ports
these servers bind on 127.0.0.1.  Every server is closed by :meth:`close`.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class ServerThread:
    """One event loop on a daemon thread that hosts any number of servers."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._servers: list[asyncio.base_events.Server] = []
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def call(self, coro: Awaitable[Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(10)  # type: ignore[arg-type]

    def serve(
        self,
        handler: Handler,
        ssl_ctx: ssl.SSLContext | None = None,
        handshake_timeout: float | None = None,
    ) -> int:
        """Start a server on 127.0.0.1:<free port>; return the port."""

        async def start() -> int:
            kwargs: dict[str, Any] = {}
            if ssl_ctx is not None and handshake_timeout:
                kwargs["ssl_handshake_timeout"] = handshake_timeout
            server = await asyncio.start_server(
                _guarded(handler), "127.0.0.1", 0, ssl=ssl_ctx, **kwargs
            )
            self._servers.append(server)
            return int(server.sockets[0].getsockname()[1])

        port: int = self.call(start())
        return port

    def close(self) -> None:
        async def stop() -> None:
            for server in self._servers:
                server.close()
            me = asyncio.current_task()
            tasks = [t for t in asyncio.all_tasks() if t is not me]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        with contextlib.suppress(Exception):
            self.call(stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)


def _guarded(handler: Handler) -> Handler:
    async def run(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await handler(reader, writer)
        except (ConnectionError, ssl.SSLError, TimeoutError, asyncio.IncompleteReadError, OSError):
            pass
        except asyncio.CancelledError:  # the server thread is shutting down
            pass
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    return run


@contextlib.asynccontextmanager
async def loopback(handler: Handler) -> AsyncIterator[int]:
    """A server on 127.0.0.1:<free port> in the running loop (async tests); the port."""
    server = await asyncio.start_server(_guarded(handler), "127.0.0.1", 0)
    try:
        yield int(server.sockets[0].getsockname()[1])
    finally:
        server.close()
        await server.wait_closed()


@contextlib.contextmanager
def server_thread() -> Iterator[ServerThread]:
    st = ServerThread()
    try:
        yield st
    finally:
        st.close()


async def read_head(reader: asyncio.StreamReader, limit: float = 5.0) -> bytes:
    """Read an HTTP request head (through the blank line)."""
    return await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), limit)


def response(
    status: int, reason: str, headers: dict[str, str] | None = None, body: bytes = b""
) -> bytes:
    lines = [f"HTTP/1.1 {status} {reason}"]
    hdrs = {"Content-Length": str(len(body)), "Connection": "close", **(headers or {})}
    lines += [f"{k}: {v}" for k, v in hdrs.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def http_ok(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """A plain HTTP server that, like nginx, answers 400 to bytes that are not HTTP."""
    first = await asyncio.wait_for(reader.read(1), 5)
    if not first.isalpha():
        writer.write(response(400, "Bad Request", {"Server": "lab"}, b"not http\n"))
        await writer.drain()
        return
    await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    writer.write(response(200, "OK", {"Server": "lab"}, b"ok\n"))
    await writer.drain()


async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Accept and never answer (reads and discards until the client gives up)."""
    while await reader.read(1024):
        pass


async def close_at_once(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await read_head(reader)
