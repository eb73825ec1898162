"""HTTP probe: what ``curl -v -w`` shows, with an overall deadline.

One request (GET, redirects followed by hand so every hop is recorded) with the
timing phases curl's ``-w`` reports: DNS (the shared system resolution),
connect, TLS, time to first byte, total.  httpx's read timeout restarts with
every chunk, so the whole exchange runs under one ``asyncio.timeout``: a
server dripping a byte a second still ends on time.

Custom headers (``--header``) and URL credentials are sent only to the
target's own origin, never to a redirect elsewhere, and never reported: the
data records header names only.  Proxy variables are ignored here
(``trust_env=False``); the proxy probe compares the direct and proxied paths.
"""

from __future__ import annotations

import base64
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

from probes.core.context import ProbeContext
from probes.core.model import ProbeError, ProbeResult, Status
from probes.core.redact import REDACTED, is_secret_name, redact_url_credentials
from probes.core.sanitize import clean_text
from probes.core.target import Target

HTTP_PORTS = frozenset({80, 81, 3000, 5000, 8000, 8008, 8080, 8081, 8888, 9000, 9090, 9200})
HTTPS_PORTS = frozenset({443, 4443, 6443, 8443, 9443})
MAX_REDIRECTS = 10
BODY_CAP = 64 * 1024
EXPLAINING_HEADERS = (
    "www-authenticate",
    "proxy-authenticate",
    "retry-after",
    "server",
    "via",
    "location",
    "x-cache",
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "x-ratelimit-reset",
    "ratelimit",
    "content-type",
    "upgrade",
    "alt-svc",
)

# states
OK, FAILED, TIMEOUT, NOT_HTTP, EMPTY_REPLY, TLS_ERROR, CONNECT_ERROR = (
    "ok",
    "failed",
    "timeout",
    "not_http",
    "empty_reply",
    "tls_error",
    "connect_error",
)


@dataclass(frozen=True, slots=True)
class HttpHop:
    url: str  # without credentials; secret query values redacted
    status: int
    reason: str
    http_version: str
    location: str = ""


@dataclass(frozen=True, slots=True)
class HttpTimings:
    """Seconds from the start of the last request (``curl -w`` style); -1 = not reached."""

    dns_s: float = -1.0
    connect_s: float = -1.0
    tls_s: float = -1.0
    ttfb_s: float = -1.0
    total_s: float = -1.0


@dataclass(frozen=True, slots=True)
class HttpData:
    url: str
    method: str
    state: str  # ok | timeout | not_http | empty_reply | tls_error | connect_error | failed
    status: int = 0
    reason: str = ""
    http_version: str = ""
    headers: tuple[tuple[str, str], ...] = ()  # the headers that explain failures, sanitised
    hops: tuple[HttpHop, ...] = ()  # every response, the redirect chain included
    redirect_loop: bool = False
    timings: HttpTimings = HttpTimings()
    phase: str = ""  # how far a failed exchange got: connect | tls | request | headers | body
    detail: str = ""
    body_bytes: int = 0
    peer_protocol: str = ""  # when the port is not HTTP: the protocol its banner names
    peer_banner: str = ""
    sent_headers: tuple[str, ...] = ()  # names of the custom headers sent (values never)

    def header(self, name: str) -> str:
        return next((v for k, v in self.headers if k == name.lower()), "")


def url_for(target: Target, heard: str = "") -> str | None:
    """The URL to request, or None when the target is not HTTP-ish.  *heard* is the
    protocol the port's banner named: a bare host:port that answers in HTTP is HTTP."""
    scheme = {"ws": "http", "wss": "https"}.get(target.scheme, target.scheme)
    if scheme == "tcp":
        if target.port in HTTPS_PORTS:
            scheme = "https"
        elif target.port in HTTP_PORTS or heard == "HTTP":
            scheme = "http"
        else:
            return None
    if scheme not in ("http", "https"):
        return None
    host = f"[{target.host}]" if target.ip_version == 6 else target.host
    default = 443 if scheme == "https" else 80
    port = "" if target.port == default else f":{target.port}"
    return f"{scheme}://{host}{port}{target.path}"


def origin_of(url: str) -> tuple[str, str, int]:
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return parts.scheme, (parts.hostname or "").lower(), port


def shown_url(url: str) -> str:
    """A URL fit for output: no credentials, secret-looking query values masked."""
    from urllib.parse import parse_qsl, urlencode, urlunsplit

    parts = urlsplit(redact_url_credentials(url))
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode([(k, REDACTED if is_secret_name(k) else v) for k, v in pairs], safe="*")
    return clean_text(urlunsplit((parts.scheme, parts.netloc, parts.path, query, "")), 300)


def request_headers(ctx: ProbeContext, url: str, origin: tuple[str, str, int]) -> dict[str, str]:
    """Headers for a request to *url*: secrets only when it is the target's origin."""
    headers = {"User-Agent": "netmedic", "Accept": "*/*"}
    if origin_of(url) != origin:
        return headers
    target = ctx.target
    if target.has_credentials:
        token = base64.b64encode(f"{target.username}:{target.password}".encode()).decode()
        headers["Authorization"] = f"Basic {token}"
    for name, value in ctx.config.headers:
        headers[name] = value
    return headers


async def probe_http(ctx: ProbeContext) -> AsyncIterator[ProbeResult]:
    started = time.monotonic()
    url = url_for(ctx.target, ctx.heard_protocol)
    if url is None:
        yield ProbeResult(
            "http",
            Status.SKIPPED,
            0.0,
            f"{ctx.target.scheme}://{ctx.target.host_port} is not an HTTP target "
            "(use an http:// or https:// URL)",
        )
        return
    resolution = await ctx.resolution()
    if not resolution.addresses:
        yield ProbeResult(
            "http", Status.SKIPPED, time.monotonic() - started, "no address (name did not resolve)"
        )
        return
    deadline = started + ctx.config.timeout
    data = await fetch(ctx, url, deadline, resolution.elapsed_s)
    if data.state in (NOT_HTTP, EMPTY_REPLY) and urlsplit(url).scheme == "http":
        data = await _name_peer(ctx, data, resolution.addresses[0], deadline)
    elapsed = time.monotonic() - started
    if ctx.target.scheme == "tcp" and data.state in (NOT_HTTP, EMPTY_REPLY):
        # HTTP was only guessed from the port number: another protocol there is no fault.
        spoken = f"it speaks {data.peer_protocol}" if data.peer_protocol else data.detail
        yield ProbeResult(
            "http", Status.SKIPPED, elapsed, f"port {ctx.target.port} is not HTTP ({spoken})"
        )
        return
    yield _result(data, elapsed)


def _result(data: HttpData, elapsed: float) -> ProbeResult:
    if data.state == OK:
        t = data.timings
        summary = (
            f"{data.status} {data.reason} ({data.http_version}) in {t.total_s * 1000:.0f} ms"
            + (f" after {len(data.hops) - 1} redirect(s)" if len(data.hops) > 1 else "")
        )
        status = Status.OK if data.status < 400 and not data.redirect_loop else Status.FAILED
        return ProbeResult("http", status, elapsed, summary, data)
    summary = f"{data.state}: {data.detail}"
    err = ProbeError(data.state.upper(), data.detail, elapsed_s=elapsed)
    return ProbeResult("http", Status.FAILED, elapsed, summary, data, err)


async def _name_peer(ctx: ProbeContext, data: HttpData, address: str, deadline: float) -> HttpData:
    from dataclasses import replace

    from probes.wire.connect import connect_once

    wait = min(ctx.config.banner_wait, max(0.05, (deadline - time.monotonic()) / 3))
    budget = max(0.1, deadline - time.monotonic() - 2 * wait)
    attempt = await connect_once(address, ctx.target.port, budget, wait)
    if attempt.protocol and attempt.protocol != "HTTP":
        return replace(
            data, state=NOT_HTTP, peer_protocol=attempt.protocol, peer_banner=attempt.banner
        )
    return data


class _Trace:
    """Timestamps of httpcore's trace events for one request."""

    def __init__(self) -> None:
        self.t0 = time.monotonic()
        self.events: dict[str, float] = {}

    async def __call__(self, name: str, info: dict[str, Any]) -> None:
        self.events.setdefault(name, time.monotonic() - self.t0)

    def at(self, *names: str) -> float:
        for name in names:
            if name in self.events:
                return self.events[name]
        return -1.0

    def phase(self) -> str:
        ev = self.events
        if any(k.endswith("receive_response_headers.complete") for k in ev):
            return "body"
        if any(k.endswith("send_request_headers.started") for k in ev):
            return "headers"
        if "connection.start_tls.started" in ev and "connection.start_tls.complete" not in ev:
            return "tls"
        if "connection.connect_tcp.complete" in ev:
            return "request"
        return "connect"


async def fetch(ctx: ProbeContext, url: str, deadline: float, dns_s: float) -> HttpData:
    import asyncio

    import httpx

    from probes.proto.tls import verify_context

    origin = origin_of(url)
    try:
        verify = verify_context(ctx.config.ca_file)
    except (OSError, ValueError) as exc:
        return HttpData(shown_url(url), "GET", TLS_ERROR, detail=f"CA file: {clean_text(str(exc))}")
    sent = tuple(name for name, _ in ctx.config.headers)
    hops: list[HttpHop] = []
    seen: set[str] = set()
    trace = _Trace()
    body_bytes = 0
    current = url
    remaining = max(0.1, deadline - time.monotonic())
    timeout = httpx.Timeout(remaining)
    try:
        async with (
            asyncio.timeout(remaining),
            httpx.AsyncClient(
                trust_env=False, http2=True, verify=verify, timeout=timeout, follow_redirects=False
            ) as client,
        ):
            while True:
                seen.add(current)
                trace = _Trace()
                headers = request_headers(ctx, current, origin)
                async with client.stream(
                    "GET", current, headers=headers, extensions={"trace": trace}
                ) as response:
                    body_bytes = 0
                    async for chunk in response.aiter_raw():
                        body_bytes += len(chunk)
                        if body_bytes >= BODY_CAP:
                            break
                    total = time.monotonic() - trace.t0
                location = response.headers.get("location", "")
                hop = HttpHop(
                    shown_url(current),
                    response.status_code,
                    clean_text(response.reason_phrase, 80),
                    response.http_version,
                    shown_url(urljoin(current, location)) if location else "",
                )
                hops.append(hop)
                if response.is_redirect and location:
                    nxt = urljoin(current, location)
                    if nxt in seen or len(hops) > MAX_REDIRECTS:
                        return _done(
                            url, response, hops, trace, total, dns_s, body_bytes, sent, loop=True
                        )
                    current = nxt
                    continue
                return _done(url, response, hops, trace, total, dns_s, body_bytes, sent)
    except TimeoutError:
        phase = trace.phase()
        return _failed(
            url,
            TIMEOUT,
            phase,
            _timeout_detail(phase, body_bytes, remaining),
            hops,
            trace,
            dns_s,
            sent,
        )
    except httpx.TimeoutException as exc:
        phase = trace.phase()
        detail = _timeout_detail(phase, body_bytes, remaining) + f" ({type(exc).__name__})"
        return _failed(url, TIMEOUT, phase, detail, hops, trace, dns_s, sent)
    except httpx.RemoteProtocolError as exc:
        text = clean_text(str(exc), 160)
        if "without sending a response" in text or "disconnected" in text.lower():
            return _failed(url, EMPTY_REPLY, trace.phase(), text, hops, trace, dns_s, sent)
        return _failed(url, NOT_HTTP, trace.phase(), text, hops, trace, dns_s, sent)
    except (httpx.ConnectError, httpx.ReadError, httpx.WriteError, OSError) as exc:
        text = clean_text(str(exc) or type(exc).__name__, 160)
        lowered = text.lower()
        if "ssl" in lowered or "certificate" in lowered or "tls" in lowered:
            return _failed(url, TLS_ERROR, "tls", text, hops, trace, dns_s, sent)
        if trace.phase() in ("connect",):
            return _failed(url, CONNECT_ERROR, "connect", text, hops, trace, dns_s, sent)
        return _failed(url, EMPTY_REPLY, trace.phase(), text, hops, trace, dns_s, sent)
    except (httpx.HTTPError, ValueError) as exc:
        text = clean_text(str(exc) or type(exc).__name__, 160)
        return _failed(url, FAILED, trace.phase(), text, hops, trace, dns_s, sent)


def _timeout_detail(phase: str, body_bytes: int, limit: float) -> str:
    if phase == "body":
        return f"the response started but the body was still arriving after {limit:.1f}s ({body_bytes} bytes so far)"
    if phase in ("headers", "request"):
        return f"connected and sent the request; no response within {limit:.1f}s"
    if phase == "tls":
        return f"the TLS handshake did not finish within {limit:.1f}s"
    return f"could not connect within {limit:.1f}s"


def _timings(trace: _Trace, dns_s: float, total: float) -> HttpTimings:
    return HttpTimings(
        dns_s=dns_s,
        connect_s=trace.at("connection.connect_tcp.complete"),
        tls_s=trace.at("connection.start_tls.complete"),
        ttfb_s=trace.at(
            "http11.receive_response_headers.complete", "http2.receive_response_headers.complete"
        ),
        total_s=total,
    )


def _done(
    url: str,
    response: Any,
    hops: list[HttpHop],
    trace: _Trace,
    total: float,
    dns_s: float,
    body_bytes: int,
    sent: tuple[str, ...],
    loop: bool = False,
) -> HttpData:
    headers = tuple(
        (name, clean_text(response.headers.get(name), 200))
        for name in EXPLAINING_HEADERS
        if response.headers.get(name) is not None
    )
    return HttpData(
        url=shown_url(url),
        method="GET",
        state=OK,
        status=response.status_code,
        reason=clean_text(response.reason_phrase, 80),
        http_version=response.http_version,
        headers=headers,
        hops=tuple(hops),
        redirect_loop=loop,
        timings=_timings(trace, dns_s, total),
        body_bytes=body_bytes,
        sent_headers=sent,
    )


def _failed(
    url: str,
    state: str,
    phase: str,
    detail: str,
    hops: list[HttpHop],
    trace: _Trace,
    dns_s: float,
    sent: tuple[str, ...],
) -> HttpData:
    return HttpData(
        url=shown_url(url),
        method="GET",
        state=state,
        hops=tuple(hops),
        timings=_timings(trace, dns_s, time.monotonic() - trace.t0),
        phase=phase,
        detail=detail,
        sent_headers=sent,
    )
