"""WebSocket upgrade probe: a real RFC 6455 upgrade request, checked like a browser does.

Expect ``101 Switching Protocols`` with ``Upgrade: websocket`` and the right
``Sec-WebSocket-Accept``.  Anything else is recorded with its status and the
headers that explain it.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from probes.core.context import ProbeContext
from probes.core.model import ProbeError, ProbeResult, Status
from probes.core.sanitize import clean_bytes, clean_text
from probes.proto.httphead import NotHttp, exchange, parse_head

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
OK, REJECTED, BAD_ACCEPT, TIMEOUT, FAILED = "ok", "rejected", "bad_accept", "timeout", "failed"
NO_ADDRESS = "the name does not resolve"


@dataclass(frozen=True, slots=True)
class WsData:
    url: str
    state: str  # ok | rejected | bad_accept | timeout | failed
    status: int = 0
    reason: str = ""
    headers: tuple[tuple[str, str], ...] = ()  # upgrade, connection, server, via, sec-websocket-*
    detail: str = ""
    origin: str = ""

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
        yield ProbeResult("ws", Status.OK, elapsed, f"101 Switching Protocols from {url}", data)
        return
    summary = (
        f"{data.state}: {data.status} {data.reason}".strip()
        if data.status
        else f"{data.state}: {data.detail}"
    )
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
    try:
        async with asyncio.timeout(max(0.1, deadline - time.monotonic())):
            reader, writer = await asyncio.open_connection(
                resolution.addresses[0],
                t.port,
                ssl=ssl_ctx,
                server_hostname=(t.sni or t.host) if ssl_ctx else None,
            )
            head = await exchange(reader, writer, request)
    except TimeoutError:
        return WsData(
            shown,
            TIMEOUT,
            detail="no answer to the upgrade request before the deadline",
            origin=ctx.config.origin,
        )
    except asyncio.IncompleteReadError as exc:
        return WsData(
            shown,
            FAILED,
            detail=f"the server closed the connection without answering ({clean_bytes(exc.partial[:60], 60)!r})",
            origin=ctx.config.origin,
        )
    except (OSError, asyncio.LimitOverrunError) as exc:
        return WsData(
            shown,
            FAILED,
            detail=clean_text(f"{type(exc).__name__}: {exc}", 200),
            origin=ctx.config.origin,
        )
    try:
        response = parse_head(head)
    except NotHttp as exc:
        return WsData(shown, FAILED, detail=f"not HTTP: {str(exc)!r}", origin=ctx.config.origin)
    status, reason = response.status, response.reason
    wanted = (
        "upgrade",
        "connection",
        "server",
        "via",
        "sec-websocket-accept",
        "sec-websocket-version",
        "location",
    )
    headers = tuple((k, v) for k, v in response.headers if k in wanted)
    data = WsData(shown, REJECTED, status, reason, headers, origin=ctx.config.origin)
    if status != 101:
        return data
    from dataclasses import replace

    if (
        data.header("sec-websocket-accept") != accept_for(key)
        or data.header("upgrade").lower() != "websocket"
    ):
        return replace(
            data,
            state=BAD_ACCEPT,
            detail="101 without a correct Sec-WebSocket-Accept / Upgrade: websocket",
        )
    return replace(data, state=OK)


def _origin(url: str) -> tuple[str, str, int]:
    from probes.proto.http import origin_of

    return origin_of(url)
