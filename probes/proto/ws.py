"""WebSocket upgrade probe: a real RFC 6455 upgrade request, checked like a browser does.

Expect ``101 Switching Protocols`` with ``Upgrade: websocket`` and the right
``Sec-WebSocket-Accept``.  Anything else is recorded with its status and the
headers that explain it.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import os
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace

from probes.core.context import ProbeContext
from probes.core.model import ProbeError, ProbeResult, Status
from probes.core.sanitize import clean_bytes, clean_text
from probes.proto.errbody import READ_CAP, excerpt
from probes.proto.httphead import NotHttp, parse_head
from probes.proto.wsframes import CLOSE, PING, PONG, close_frame, encode, read_frame
from probes.wire.connect import stream_source

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
OK, REJECTED, BAD_ACCEPT, TIMEOUT, FAILED = "ok", "rejected", "bad_accept", "timeout", "failed"
CLOSED, DROPPED = "closed", "dropped"  # closed right after the upgrade / during --hold
CLOSE_LOOK_S = 0.5  # how long to listen for a close frame right after the upgrade
PONG_WAIT_S = 2.0
NO_ADDRESS = "the name does not resolve"


@dataclass(frozen=True, slots=True)
class WsData:
    url: str
    state: str  # ok | rejected | bad_accept | timeout | failed | closed | dropped
    status: int = 0
    reason: str = ""
    headers: tuple[tuple[str, str], ...] = ()  # upgrade, connection, server, via, sec-websocket-*
    detail: str = ""
    origin: str = ""
    body_excerpt: str = ""  # a refused upgrade's body: the server's own words
    # After the upgrade (state ok, closed or dropped):
    close_code: int = 0  # the server's close frame (1006: closed without one)
    close_reason: str = ""
    closed_after_s: float | None = None  # seconds from the 101 to the close; None: not closed
    pong_s: float | None = None  # ping → pong; None: no pong
    hold_s: float = 0.0  # how long the socket was kept open (--hold)
    messages: int = 0  # data frames the server sent while watched
    source: str = ""  # the local address:port of its connection ("" when none was made)

    @property
    def own_sources(self) -> tuple[str, ...]:
        return (self.source,) if self.source else ()

    def header(self, name: str) -> str:
        return next((v for k, v in self.headers if k == name), "")


def accept_for(key: str) -> str:
    return base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()


def ws_url(ctx: ProbeContext) -> tuple[str, bool] | None:
    t = ctx.target
    if t.scheme in ("ws", "wss"):
        return t.url(), t.scheme == "wss"
    if ctx.symptom != "websocket":
        return None
    secure = t.scheme == "https" or (t.scheme == "tcp" and t.port in (443, 8443))
    if t.scheme not in ("http", "https", "tcp"):
        return None
    host = f"[{t.host}]" if t.ip_version == 6 else t.host
    return f"{'wss' if secure else 'ws'}://{host}:{t.port}{t.path}", secure


async def probe_ws(ctx: ProbeContext) -> AsyncIterator[ProbeResult]:
    started = time.monotonic()
    which = ws_url(ctx)
    if which is None:
        yield ProbeResult(
            "ws",
            Status.SKIPPED,
            0.0,
            "not a WebSocket target (use ws:// or wss:// or --symptom websocket)",
        )
        return
    url, secure = which
    data = await upgrade(ctx, url, secure, started + ctx.config.timeout)
    elapsed = time.monotonic() - started
    if data.detail == NO_ADDRESS:  # the DNS probe explains it, as for the HTTP and TLS probes
        yield ProbeResult("ws", Status.SKIPPED, elapsed, "no address (name did not resolve)")
        return
    if data.state == OK:
        pong = f"; pong in {data.pong_s * 1000:.1f} ms" if data.pong_s is not None else "; no pong"
        held = f"; held open {data.hold_s:g} s" if data.hold_s else ""
        yield ProbeResult(
            "ws", Status.OK, elapsed, f"101 Switching Protocols from {url}{pong}{held}", data
        )
        return
    if data.state in (CLOSED, DROPPED):
        summary = (
            f"{data.state}: 101, then closed after {data.closed_after_s or 0.0:.2f} s "
            f"with {data.close_code} {data.close_reason}".strip()
        )
    elif data.status:
        summary = f"{data.state}: {data.status} {data.reason}".strip()
    else:
        summary = f"{data.state}: {data.detail}"
    err = ProbeError(data.state.upper(), data.detail or summary, elapsed_s=elapsed)
    yield ProbeResult("ws", Status.FAILED, elapsed, summary, data, err)


async def upgrade(ctx: ProbeContext, url: str, secure: bool, deadline: float) -> WsData:
    from probes.proto.http import request_headers, shown_url

    t = ctx.target
    key = base64.b64encode(os.urandom(16)).decode()
    host_header = (
        t.host_port if t.port not in (80, 443) else (f"[{t.host}]" if t.ip_version == 6 else t.host)
    )
    lines = [
        f"GET {t.path or '/'} HTTP/1.1",
        f"Host: {host_header}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13",
    ]
    if ctx.config.origin:
        lines.append(f"Origin: {ctx.config.origin}")
    http_url = ("https" if secure else "http") + url[url.index("://") :]
    extra = request_headers(ctx, http_url, _origin(http_url))
    lines += [f"{k}: {v}" for k, v in extra.items() if k.lower() != "accept"]
    request = ("\r\n".join(lines) + "\r\n\r\n").encode()
    shown = shown_url(url)
    ssl_ctx = None
    if secure:
        from probes.proto.tls import verify_context

        try:
            ssl_ctx = verify_context(ctx.config.ca_file)
        except (OSError, ValueError) as exc:
            return WsData(
                shown, FAILED, detail=f"CA file: {clean_text(str(exc))}", origin=ctx.config.origin
            )
    resolution = await ctx.resolution()
    if not resolution.addresses:
        return WsData(shown, FAILED, detail=NO_ADDRESS, origin=ctx.config.origin)
    origin = ctx.config.origin
    try:
        async with asyncio.timeout(max(0.1, deadline - time.monotonic())):
            reader, writer = await asyncio.open_connection(
                resolution.addresses[0],
                t.port,
                ssl=ssl_ctx,
                server_hostname=(t.sni or t.host) if ssl_ctx else None,
            )
    except TimeoutError:
        return WsData(shown, TIMEOUT, detail="could not connect before the deadline", origin=origin)
    except OSError as exc:
        return WsData(
            shown, FAILED, detail=clean_text(f"{type(exc).__name__}: {exc}", 200), origin=origin
        )
    source = stream_source(writer)
    try:
        data = await _converse(ctx, reader, writer, request, key, shown, deadline)
    finally:
        writer.close()
    return replace(data, source=source)


async def _converse(
    ctx: ProbeContext,
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    request: bytes,
    key: str,
    shown: str,
    deadline: float,
) -> WsData:
    origin = ctx.config.origin
    try:
        async with asyncio.timeout(max(0.1, deadline - time.monotonic())):
            writer.write(request)
            await writer.drain()
            head = await reader.readuntil(b"\r\n\r\n")
    except TimeoutError:
        return WsData(
            shown,
            TIMEOUT,
            detail="no answer to the upgrade request before the deadline",
            origin=origin,
        )
    except asyncio.IncompleteReadError as exc:
        return WsData(
            shown,
            FAILED,
            detail=f"the server closed the connection without answering ({clean_bytes(exc.partial[:60], 60)!r})",
            origin=origin,
        )
    except (OSError, asyncio.LimitOverrunError) as exc:
        return WsData(
            shown, FAILED, detail=clean_text(f"{type(exc).__name__}: {exc}", 200), origin=origin
        )
    try:
        response = parse_head(head)
    except NotHttp as exc:
        return WsData(shown, FAILED, detail=f"not HTTP: {str(exc)!r}", origin=origin)
    status, reason = response.status, response.reason
    wanted = (
        "upgrade",
        "connection",
        "server",
        "via",
        "sec-websocket-accept",
        "sec-websocket-version",
        "location",
        "retry-after",
    )
    headers = tuple((k, v) for k, v in response.headers if k in wanted)
    data = WsData(shown, REJECTED, status, reason, headers, origin=origin)
    if status != 101:
        body = await _body(reader, response.get("content-length"), deadline)
        return replace(data, body_excerpt=excerpt(body, response.get("content-type")))
    if (
        data.header("sec-websocket-accept") != accept_for(key)
        or data.header("upgrade").lower() != "websocket"
    ):
        return replace(
            data,
            state=BAD_ACCEPT,
            detail="101 without a correct Sec-WebSocket-Accept / Upgrade: websocket",
        )
    return await watch(replace(data, state=OK), reader, writer, ctx.config.ws_hold)


async def _body(reader: asyncio.StreamReader, length: str, deadline: float) -> bytes:
    """Up to READ_CAP bytes of a refused upgrade's body, waiting briefly."""
    wait = max(0.05, min(0.5, deadline - time.monotonic()))
    try:
        async with asyncio.timeout(wait):
            if length.isdigit():
                return await reader.readexactly(min(int(length), READ_CAP))
            return await reader.read(READ_CAP)
    except (TimeoutError, OSError, asyncio.IncompleteReadError):
        return b""


async def watch(
    data: WsData, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, hold: float | None
) -> WsData:
    """After the 101: listen for a close frame, time a ping, and keep the socket open
    for *hold* seconds (idle: nothing sent) to catch an intermediary's idle timeout."""
    upgraded = time.monotonic()
    seen = _Seen()
    # 1. A server that refuses after the upgrade closes at once (1008 "Invalid API key").
    closed = await seen.until(reader, writer, upgraded + CLOSE_LOOK_S)
    if closed is None:
        # 2. Is anyone there?  A ping answered by a pong is the WebSocket's own echo.
        sent = time.monotonic()
        writer.write(encode(PING, b"netmedic"))
        try:
            await writer.drain()
        except OSError:
            closed = (1006, "")
        else:
            closed = await seen.until(reader, writer, sent + PONG_WAIT_S, stop_on_pong=True)
            if seen.pong_at:
                data = replace(data, pong_s=seen.pong_at - sent)
    dropped = False  # closed by the server while held open (an idle timeout)
    if closed is None and hold:
        data = replace(data, hold_s=hold)
        closed = await seen.until(reader, writer, upgraded + hold)
        dropped = closed is not None
    if closed is not None:
        code, text = closed
        return replace(
            data,
            state=DROPPED if dropped else CLOSED,
            close_code=code,
            close_reason=text,
            closed_after_s=seen.closed_at - upgraded,
            messages=seen.messages,
        )
    with contextlib.suppress(OSError):
        writer.write(close_frame(1000))
        await writer.drain()
    return replace(data, messages=seen.messages)


class _Seen:
    """Frames read while watching: messages counted, pings answered, the close kept."""

    def __init__(self) -> None:
        self.messages = 0
        self.pong_at = 0.0
        self.closed_at = 0.0

    async def until(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        end: float,
        stop_on_pong: bool = False,
    ) -> tuple[int, str] | None:
        """Read frames until *end*; (close code, reason) when the server closed."""
        while (left := end - time.monotonic()) > 0:
            try:
                async with asyncio.timeout(left):
                    frame = await read_frame(reader)
            except TimeoutError:
                return None
            except (asyncio.IncompleteReadError, OSError) as exc:
                self.closed_at = time.monotonic()
                how = "reset" if isinstance(exc, ConnectionResetError) else ""
                return 1006, how
            if frame.opcode == CLOSE:
                self.closed_at = time.monotonic()
                return frame.close_code, clean_bytes(frame.close_reason, 123)
            if frame.opcode == PING:
                writer.write(encode(PONG, frame.payload[:125]))
            elif frame.opcode == PONG:
                self.pong_at = time.monotonic()
                if stop_on_pong:
                    return None
            else:
                self.messages += 1
        return None


def _origin(url: str) -> tuple[str, str, int]:
    from probes.proto.http import origin_of

    return origin_of(url)
