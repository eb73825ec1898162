"""Start the demo's fault servers on loopback, and stop every one of them.

One asyncio loop on a daemon thread hosts all the servers, so neither the
TUI's loop nor ``check``'s ever waits on them.  Ports are chosen by the kernel;
certificates are made at start in a private temporary directory that
:meth:`DemoLab.close` removes.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import signal
import socket
import ssl
import tempfile
import threading
from collections.abc import Awaitable, Iterator
from pathlib import Path
from types import TracebackType
from typing import TypeVar

from tui.demo import handlers as h
from tui.demo.addresses import is_loopback, other_local_address
from tui.demo.cases import DemoCase
from tui.demo.pki import make_pki

T = TypeVar("T")

LOOPBACK = "127.0.0.1"
DEMO_ORIGIN = "https://app.netmedic.invalid"
START_TIMEOUT_S = 10.0


class DemoLab:
    """The broken services, running until :meth:`close` (or the ``with`` block ends)."""

    def __init__(self, other_address: str | None = None) -> None:
        """*other_address*: where clients look for the loopback-only service
        (default: this host's own non-loopback address, see :mod:`.addresses`)."""
        self.other_address = other_address
        self.cases: tuple[DemoCase, ...] = ()
        self.ca_file = ""
        self._dir: Path | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._servers: list[asyncio.Server] = []
        self._held: list[socket.socket] = []

    def __enter__(self) -> DemoLab:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def start(self) -> tuple[DemoCase, ...]:
        """Make the certificates, start every server, and return the cases."""
        if self._loop is not None:
            return self.cases
        try:
            self._dir = Path(tempfile.mkdtemp(prefix="netmedic-demo-"))  # 0700
            pki = make_pki(self._dir)
            self.ca_file = str(pki.ca_file)
            self._loop = asyncio.new_event_loop()
            self._thread = threading.Thread(
                target=self._loop.run_forever, name="netmedic-demo", daemon=True
            )
            self._thread.start()
            self.cases = self._call(self._start_all(pki.expired, pki.wrong_name))
        except BaseException:
            self.close()
            raise
        return self.cases

    def case(self, case_id: str) -> DemoCase:
        return next(c for c in self.cases if c.id == case_id)

    async def _start_all(
        self, expired: ssl.SSLContext, wrong_name: ssl.SSLContext
    ) -> tuple[DemoCase, ...]:
        refused = self._closed_port()
        local_only = await self._serve(h.http_ok)
        tls_expired = await self._serve(h.http_ok, expired)
        tls_name = await self._serve(h.http_ok, wrong_name)
        busy = await self._serve(h.unavailable)
        slow = await self._serve(h.slow_first_byte)
        reset = await self._serve(h.reset_at_once)
        ws = await self._serve(h.no_upgrade)
        cors = await self._serve(h.cors_without_origin)
        ssh = await self._serve(h.ssh_banner)
        at = f"{LOOPBACK}:"
        return (
            DemoCase(
                "refused",
                "Nothing listens on the port (the service is down)",
                f"{at}{refused}",
                "refused",
                "local.not_listening",
            ),
            self._loopback_only_case(local_only),
            DemoCase(
                "tls-expired",
                "HTTPS with an expired self-signed certificate",
                f"https://{at}{tls_expired}/",
                "tls",
                "tls.expired",
            ),
            DemoCase(
                "tls-wrong-name",
                "HTTPS certificate made out for another name",
                f"https://{at}{tls_name}/",
                "tls",
                "tls.hostname_mismatch",
            ),
            DemoCase(
                "http-503",
                "HTTP 503 Service Unavailable with Retry-After",
                f"http://{at}{busy}/health",
                "service-down",
                "http.unavailable",
            ),
            DemoCase(
                "slow-first-byte",
                f"Fast network, {h.SLOW_FIRST_BYTE_S:g} s before the first byte",
                f"http://{at}{slow}/report",
                "slow",
                "http.slow_response",
            ),
            DemoCase(
                "reset",
                "Accepts the connection, then resets it",
                f"{at}{reset}",
                "intermittent",
                "tcp.reset_after_connect",
            ),
            DemoCase(
                "ws-no-upgrade",
                "WebSocket endpoint that answers 200, never 101",
                f"ws://{at}{ws}/chat",
                "websocket",
                "ws.upgrade_rejected",
            ),
            DemoCase(
                "cors-no-origin",
                "CORS preflight without Access-Control-Allow-Origin",
                f"http://{at}{cors}/api/items",
                "cors",
                "cors.preflight_rejected",
                origin=DEMO_ORIGIN,
            ),
            DemoCase(
                "wrong-protocol",
                "An http:// URL whose port speaks SSH",
                f"http://{at}{ssh}/",
                "auto",
                "http.not_http",
            ),
        )

    def _loopback_only_case(self, port: int) -> DemoCase:
        other = self.other_address or other_local_address()
        host = f"[{other}]" if ":" in other else other
        if is_loopback(other):
            # No non-loopback address here: the listener is on another local
            # address, not "loopback only" as seen from a real interface.
            title = f"Bound to {LOOPBACK} only; clients use {other}"
            return DemoCase(
                "bound-elsewhere", title, f"{host}:{port}", "refused", "local.bound_elsewhere"
            )
        title = f"Bound to {LOOPBACK} only; clients use this host's {other}"
        return DemoCase("loopback-only", title, f"{host}:{port}", "refused", "local.loopback_only")

    async def _serve(self, handler: h.Handler, ssl_ctx: ssl.SSLContext | None = None) -> int:
        server = await asyncio.start_server(
            _guarded(handler), LOOPBACK, 0, ssl=ssl_ctx, limit=h.HEAD_LIMIT
        )
        self._servers.append(server)
        return int(server.sockets[0].getsockname()[1])

    def _closed_port(self) -> int:
        """A port bound but never listened on: SYNs get a reset, and no other
        program can take the port while the demo runs."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind((LOOPBACK, 0))
        self._held.append(sock)
        return int(sock.getsockname()[1])

    def _call(self, coro: Awaitable[T]) -> T:
        assert self._loop is not None
        future = asyncio.run_coroutine_threadsafe(_wrap(coro), self._loop)
        return future.result(START_TIMEOUT_S)

    def close(self) -> None:
        """Stop every server and connection, end the thread, remove the certificates."""
        loop, self._loop = self._loop, None
        if loop is not None:
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(self._stop_all(), loop).result(START_TIMEOUT_S)
            loop.call_soon_threadsafe(loop.stop)
            if self._thread is not None:
                self._thread.join(START_TIMEOUT_S)
            if not loop.is_running():
                loop.close()
        for sock in self._held:
            sock.close()
        self._held.clear()
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    async def _stop_all(self) -> None:
        for server in self._servers:
            server.close()
        self._servers.clear()
        me = asyncio.current_task()
        tasks = [t for t in asyncio.all_tasks() if t is not me]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


@contextlib.contextmanager
def hang_up_exits() -> Iterator[None]:
    """While open, a hang-up (SIGHUP) or kill (SIGTERM) leaves through the caller's
    ``with`` blocks, so the lab's close runs; the previous handlers come back after.
    (The TUI installs its own handlers meanwhile and closes the lab itself.)"""

    def leave(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    previous = {}
    with contextlib.suppress(ValueError):  # not the main thread: nothing to install
        for sig in (signal.SIGHUP, signal.SIGTERM):
            previous[sig] = signal.signal(sig, leave)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


async def _wrap(coro: Awaitable[T]) -> T:
    return await coro


def _guarded(handler: h.Handler) -> h.Handler:
    """A client that goes away mid-answer is normal, never an error to report."""

    async def run(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await handler(reader, writer)
        except (ConnectionError, ssl.SSLError, TimeoutError, OSError, asyncio.CancelledError):
            pass
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    return run
