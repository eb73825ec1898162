"""HTTP probe: what ``curl -v -w`` shows, with an overall deadline.

One request (GET, redirects followed by hand so every hop is recorded) with the
timing phases curl's ``-w`` reports: DNS (the shared system resolution),
connect, TLS, time to first byte, total.  httpx's read timeout restarts with
every chunk, so the whole exchange runs under one deadline
(:func:`probes.core.deadline.deadline`, which does not count time this process was
starved): a server dripping a byte a second still ends on time.

Custom headers (``--header``) and URL credentials are sent only to the
target's own origin, never to a redirect elsewhere, and never reported: the
data records header names only.

The request goes through the environment's proxy exactly when a client would
(``HTTP(S)_PROXY``/``ALL_PROXY``/``NO_PROXY``, see :func:`probes.proto.proxy.proxy_for`,
chosen again for every redirect hop): absolute-URI ``GET`` for http, ``CONNECT``
for https.  The data says which proxy was used (never its credentials).

How a failed exchange ended is told apart: the proxy failing (unreachable, 407,
cannot reach the site), the server resetting or closing the connection (and
whether before or after it read the request), a response that is not HTTP at
all, and one that is HTTP but malformed (the defect is named from the raw bytes).
"""

from __future__ import annotations

import base64
import contextlib
import importlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

from probes.core.context import ProbeContext, run_in_daemon_thread
from probes.core.deadline import Budget, deadline
from probes.core.model import ProbeError, ProbeResult, Status
from probes.core.redact import REDACTED, is_secret_name, redact_url_credentials
from probes.core.sanitize import clean_bytes, clean_text
from probes.core.target import Target
from probes.proto.authpath import AuthPath, ask_authed, authed_url
from probes.proto.errbody import READ_CAP, excerpt
from probes.proto.proxy import ProxyChoice

# 6333: Qdrant's HTTP API (probes.core.profiles)
HTTP_PORTS = frozenset({80, 81, 3000, 5000, 6333, 8000, 8008, 8080, 8081, 8888, 9000, 9090, 9200})
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
OK, FAILED, TIMEOUT, NOT_HTTP, INVALID_RESPONSE, RESET, CLOSED, TLS_ERROR, CONNECT_ERROR = (
    "ok",
    "failed",  # the request could not be made (a bad redirect URL, an unsupported scheme)
    "timeout",
    "not_http",  # the answer is not HTTP at all
    "invalid_response",  # HTTP, but malformed: clients reject it
    "reset",  # the server reset the connection (RST) without a response
    "closed",  # the server closed the connection (FIN) without a response
    "tls_error",
    "connect_error",
)
PROXY_UNREACHABLE, PROXY_AUTH_REQUIRED, PROXY_UPSTREAM_FAILED, PROXY_FAILED = (
    "proxy_unreachable",
    "proxy_auth_required",
    "proxy_upstream_failed",
    "proxy_failed",  # the proxy refuses the tunnel or hangs up without an answer
)
FAILURE_STATES = (
    FAILED,
    TIMEOUT,
    NOT_HTTP,
    INVALID_RESPONSE,
    RESET,
    CLOSED,
    TLS_ERROR,
    CONNECT_ERROR,
    PROXY_UNREACHABLE,
    PROXY_AUTH_REQUIRED,
    PROXY_UPSTREAM_FAILED,
    PROXY_FAILED,
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
    """The last request's phases (``curl -w`` style), on one monotonic clock.

    ``dns_s`` is the name resolution's own duration; the other marks are seconds
    from the start of the request, each taken as the client library reports the
    step done.  A phase that did not happen (no TLS on plain HTTP, no new
    connection on a reused one, no first byte before a timeout) is None.
    """

    dns_s: float | None = None
    connect_s: float | None = None
    tls_s: float | None = None
    ttfb_s: float | None = None
    total_s: float | None = None
    sent_s: float | None = None  # the request was sent (the server's think time starts here)
    # The kernel's RTT of the request's own TCP connection (TCP_INFO right after the
    # connect; probes.wire.tcpinfo), to the proxy when one is used; None on a reused
    # connection or when the SYN was retransmitted.
    kernel_rtt_s: float | None = None
    # The server's think time by the kernel's clock (probes.wire.tcpinfo.kernel_wait,
    # read when the response head came in): None on a reused connection.
    kernel_think_s: float | None = None

    @property
    def think_s(self) -> float | None:
        """From the request sent to the first byte of the response; None when unknown."""
        if self.ttfb_s is None or self.sent_s is None:
            return None
        return max(0.0, self.ttfb_s - self.sent_s)

    @property
    def server_wait(self) -> tuple[float, str] | None:
        """(seconds, clock): the server's think time, the lower of the two clocks' figures.

        Both can only overstate it: ours by however late a busy event loop read the
        answer, the kernel's by the body segments that came in before it was read."""
        from probes.core.clocks import KERNEL, WALL

        pairs = ((self.kernel_think_s, KERNEL), (self.think_s, WALL))
        known = [(seconds, clock) for seconds, clock in pairs if seconds is not None]
        return min(known) if known else None


@dataclass(frozen=True, slots=True)
class HttpData:
    url: str
    method: str
    state: str  # ok or one of FAILURE_STATES
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
    proxy: str = ""  # the proxy the request went through (no credentials); "" = direct
    proxy_variable: str = ""  # the variable that chose it
    hangup_when: str = ""  # reset/closed: "before the request" | "after the request"
    defect: str = ""  # invalid_response: what is wrong with the response
    failed_url: str = ""  # the URL whose request failed (a redirect target when hops exist)
    body_excerpt: str = ""  # an error response's own message (>= 400), sanitised, capped
    expected_status: int = 0  # what a saved service's health path should answer (0: any < 400)
    service_kind: str = ""  # a saved service's profile kind (probes.core.profiles)
    authed: AuthPath | None = None  # a saved service's key asked where it is needed
    # The local address:port of each connection the exchange opened (redirects
    # included): a server's socket toward one of them is this run's own.
    sources: tuple[str, ...] = ()

    @property
    def own_sources(self) -> tuple[str, ...]:
        return self.sources

    @property
    def via(self) -> str:
        """ " via proxy X" for titles and evidence, or ""."""
        return f" via proxy {self.proxy}" if self.proxy else ""

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
    from probes.proto.proxy import proxy_env, proxy_for

    # httpx and the modules the exchange needs take a while to import (seconds on a
    # loaded machine): off the event loop, and before the clock starts, so the imports
    # never eat the request's deadline.
    await run_in_daemon_thread(_warm_up)
    started = time.monotonic()
    budget = Budget(ctx.config.timeout)
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
    proxy = proxy_for(ctx.target, proxy_env(ctx))
    if proxy is not None and proxy.scheme not in ("http", "https"):
        yield ProbeResult(
            "http",
            Status.SKIPPED,
            0.0,
            f"clients use the {proxy.scheme} proxy {proxy.shown} ({proxy.variable}) here, "
            "which this probe does not speak",
        )
        return
    if proxy is not None and proxy.scheme == "https":
        from probes.proto.proxyscheme import plain_proxy_detail

        wrong = await plain_proxy_detail(
            proxy.url, proxy.variable, proxy.shown, started + ctx.config.timeout
        )
        if wrong:  # the client would wait for a TLS handshake with the proxy: say why now
            data = HttpData(
                url, "GET", PROXY_FAILED, phase="connect", detail=wrong, proxy=proxy.shown,
                proxy_variable=proxy.variable,
            )  # fmt: skip
            elapsed = time.monotonic() - started
            err = ProbeError(PROXY_FAILED.upper(), wrong, elapsed_s=elapsed)
            yield ProbeResult("http", Status.FAILED, elapsed, f"{PROXY_FAILED}: {wrong}", data, err)
            return
    dns_s: float | None = None
    address = ""
    if proxy is None:  # through a proxy, the proxy resolves the name
        resolution = await ctx.resolution()
        if not resolution.addresses:
            yield ProbeResult(
                "http",
                Status.SKIPPED,
                time.monotonic() - started,
                "no address (name did not resolve)",
            )
            return
        dns_s, address = resolution.elapsed_s, resolution.addresses[0]
    data = await _fetch_or_sniff(ctx, url, address, budget, dns_s)
    if address and not data.hops:
        data = await _explain(ctx, data, url, address, time.monotonic() + budget.left())
    if ctx.config.expect_status or ctx.config.service_kind:
        data = _with(
            data, expected_status=ctx.config.expect_status, service_kind=ctx.config.service_kind
        )
    authed = authed_url(ctx, url) if data.state == OK and data.status < 400 else ""
    if authed:  # the health path needs no key: ask one that does
        data = _with(data, authed=await ask_authed(ctx, authed, time.monotonic() + budget.left()))
    elapsed = time.monotonic() - started
    if ctx.target.scheme == "tcp" and data.state in (NOT_HTTP, RESET, CLOSED):
        # HTTP was only guessed from the port number: another protocol there is no fault.
        spoken = f"it speaks {data.peer_protocol}" if data.peer_protocol else data.detail
        yield ProbeResult(
            "http", Status.SKIPPED, elapsed, f"port {ctx.target.port} is not HTTP ({spoken})"
        )
        return
    yield _result(data, elapsed)


async def _fetch_or_sniff(
    ctx: ProbeContext, url: str, address: str, budget: Budget, dns_s: float | None
) -> HttpData:
    """The request; for https, a TLS handshake that stays silent gets a plain look at
    the port beside it, so a plaintext server is "not TLS" at once, not at the deadline."""
    import asyncio

    from probes.proto.httpraw import raw_response
    from probes.proto.tls import SNIFF_AFTER_S
    from probes.wire.banner import identify

    task = asyncio.ensure_future(fetch(ctx, url, budget, dns_s))
    if not address or urlsplit(url).scheme != "https":
        return await task
    done, _ = await asyncio.wait({task}, timeout=SNIFF_AFTER_S)
    if done:
        return task.result()
    left = max(0.1, budget.left())
    target = ctx.target
    raw = await raw_response(
        address, target.port, "/", False, target.sni or target.host, min(2.0, left)
    )
    protocol = identify(raw) or ("" if not raw else "an unknown plaintext protocol")
    if task.done() or not raw or protocol.startswith("TLS"):
        return await task
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    detail = f"the port does not speak TLS: a plain request is answered in {protocol}"
    return HttpData(
        shown_url(url),
        "GET",
        TLS_ERROR,
        phase="tls",
        detail=detail,
        peer_protocol=protocol,
        peer_banner=clean_bytes(raw, 120),
    )


# What the exchange imports, loaded before its clock starts (see probe_http).
_WARM_UP = ("httpx", "httpcore._async.http2", "probes.proto.tls", "probes.proto.httpraw")


def _warm_up() -> None:
    for name in _WARM_UP:
        with contextlib.suppress(ImportError):  # only a head start: the exchange says why
            importlib.import_module(name)


def _result(data: HttpData, elapsed: float) -> ProbeResult:
    if data.state == OK:
        t = data.timings
        summary = (
            f"{data.status} {data.reason} ({data.http_version}) in {(t.total_s or 0) * 1000:.0f} ms"
            + (f" after {len(data.hops) - 1} redirect(s)" if len(data.hops) > 1 else "")
            + data.via
        )
        good = data.status == data.expected_status if data.expected_status else data.status < 400
        status = Status.OK if good and not data.redirect_loop else Status.FAILED
        return ProbeResult("http", status, elapsed, summary, data)
    summary = f"{data.state}: {data.detail}{data.via}"
    err = ProbeError(data.state.upper(), data.detail, elapsed_s=elapsed)
    return ProbeResult("http", Status.FAILED, elapsed, summary, data, err)


async def _explain(
    ctx: ProbeContext, data: HttpData, url: str, address: str, until: float
) -> HttpData:
    """Look again, by hand, at an exchange the client library could not read."""
    from dataclasses import replace

    from probes.proto.httpraw import raw_response, response_defect, starts_like_http
    from probes.wire.banner import identify
    from probes.wire.connect import connect_once

    secure = urlsplit(url).scheme == "https"
    left = max(0.1, until - time.monotonic())
    if data.state == NOT_HTTP:
        target = ctx.target
        raw = await raw_response(
            address, target.port, target.path, secure, target.sni or target.host, left / 2
        )
        if starts_like_http(raw):
            defect = response_defect(raw) or f"the HTTP client rejects it: {data.detail}"
            return replace(data, state=INVALID_RESPONSE, defect=defect)
        if raw:
            protocol = identify(raw) or ""
            return replace(data, peer_protocol=protocol, peer_banner=clean_bytes(raw, 120))
    if data.state == CONNECT_ERROR:
        # anyio reports a connection reset straight after the handshake as a
        # failed connect: one classified connect says what really happened.
        attempt = await connect_once(address, ctx.target.port, left, 0.2)
        data = _opened(data, attempt.source)
        if attempt.errno_name == "ECONNRESET" or (attempt.ok and attempt.closed_by_peer):
            state = CLOSED if attempt.closed_by_peer == "eof" else RESET
            return replace(data, state=state, hangup_when="before the request")
        if attempt.state == "refused":
            return replace(
                data, detail=f"connection refused: nothing listens there ({data.detail})"
            )
        return data
    if data.state in (NOT_HTTP, RESET, CLOSED) and not secure:
        # Does the server hang up at once, before it could read any request?
        wait = min(ctx.config.banner_wait, max(0.05, (until - time.monotonic()) / 3))
        connect_budget = max(0.1, until - time.monotonic() - 2 * wait)
        attempt = await connect_once(address, ctx.target.port, connect_budget, wait)
        data = _opened(data, attempt.source)
        if attempt.protocol and attempt.protocol != "HTTP":
            return replace(
                data, state=NOT_HTTP, peer_protocol=attempt.protocol, peer_banner=attempt.banner
            )
        if data.state == NOT_HTTP:
            return data
        if attempt.closed_by_peer or attempt.errno_name == "ECONNRESET":
            return replace(data, hangup_when="before the request")
    return data


def _opened(data: HttpData, source: str) -> HttpData:
    """*data* knowing one more connection of its own (the hand-made looks')."""
    from dataclasses import replace

    return replace(data, sources=(*data.sources, source)) if source else data


class _Trace:
    """httpcore's trace events for one request, in order (a CONNECT repeats names).

    Times are from :meth:`start` (just before the request is handed to the client),
    on the monotonic clock.  The TCP connect's socket is asked for the kernel's RTT
    the moment httpcore reports it connected."""

    def __init__(self, sources: tuple[str, ...] = ()) -> None:
        self.t0 = time.monotonic()
        self.events: list[tuple[str, float]] = []
        self.kernel_rtt_s: float | None = None
        self.kernel_think_s: float | None = None
        self.sock: Any = None  # the connection's socket, when this request opened it
        # Local ends of the connections opened so far (earlier hops' included).
        self.sources: list[str] = list(sources)

    def start(self) -> None:
        self.t0 = time.monotonic()
        self.events.clear()
        self.kernel_rtt_s = self.kernel_think_s = self.sock = None

    async def __call__(self, name: str, info: dict[str, Any]) -> None:
        self.events.append((name, time.monotonic() - self.t0))
        if name == "connection.connect_tcp.complete" and self.sock is None:
            self.sock = _stream_socket(info.get("return_value"))
            self.kernel_rtt_s = _socket_rtt(self.sock)
            source = _socket_source(self.sock)
            if source:
                self.sources.append(source)
        elif name.endswith("receive_response_headers.complete") and self.sock is not None:
            from probes.wire.tcpinfo import kernel_wait

            self.kernel_think_s = kernel_wait(self.sock)

    def first(self, *suffixes: str) -> float | None:
        return next((t for n, t in self.events if n.endswith(suffixes)), None)

    def last(self, *suffixes: str) -> float | None:
        return next((t for n, t in reversed(self.events) if n.endswith(suffixes)), None)

    def seen(self, suffix: str) -> bool:
        return any(n.endswith(suffix) for n, _ in self.events)

    @property
    def tunnelled(self) -> bool:
        """A proxy accepted the CONNECT (TLS to the site started through it)."""
        return self.seen("proxy.start_tls.started")

    @property
    def request_sent(self) -> bool:
        sent = self.last("send_request_headers.complete")
        return sent is not None and sent > (self.last("start_tls.complete") or -1.0)

    def phase(self) -> str:
        """How far the exchange got: connect | tls | request | headers | body."""
        phase = "connect"
        for name, _ in self.events:
            if name.endswith("connect_tcp.complete") or name.endswith("start_tls.complete"):
                phase = "request"
            elif name.endswith("start_tls.started"):
                phase = "tls"
            elif name.endswith("send_request_headers.started"):
                phase = "headers"
            elif name.endswith("receive_response_headers.complete"):
                phase = "body"
        return phase


@dataclass
class _Hop:
    """What a failure needs to know about the request that failed."""

    url: str
    proxy: ProxyChoice | None
    trace: _Trace


async def fetch(ctx: ProbeContext, url: str, budget: Budget, dns_s: float | None) -> HttpData:
    from contextlib import AsyncExitStack

    import httpx

    from probes.core.target import TargetError, parse_target
    from probes.proto.proxy import answer_state, proxy_env, proxy_for
    from probes.proto.tls import verify_context

    origin = origin_of(url)
    env = proxy_env(ctx)
    try:
        verify = verify_context(ctx.config.ca_file)
    except (OSError, ValueError) as exc:
        return HttpData(shown_url(url), "GET", TLS_ERROR, detail=f"CA file: {clean_text(str(exc))}")
    sent = tuple(name for name, _ in ctx.config.headers)
    hops: list[HttpHop] = []
    seen: set[str] = set()
    hop = _Hop(url, proxy_for(ctx.target, env), _Trace())
    body_bytes = 0
    # One budget for the whole exchange, the person's --timeout less what the probe
    # used before (time this process was starved does not count): httpx's own
    # connect/read timeouts would be plain wall clock, so they are off.
    remaining = max(0.1, budget.left())
    timeout = httpx.Timeout(None)
    clients: dict[str, httpx.AsyncClient] = {}

    def fail(state: str, detail: str, phase: str = "") -> HttpData:
        return _failed(url, state, phase or hop.trace.phase(), detail, hops, hop, dns_s, sent)

    try:
        async with deadline(remaining), AsyncExitStack() as stack:
            while True:
                seen.add(hop.url)
                key = hop.proxy.http_url if hop.proxy is not None else ""
                if key not in clients:
                    clients[key] = await stack.enter_async_context(
                        httpx.AsyncClient(
                            trust_env=False,
                            http2=True,
                            verify=verify,
                            timeout=timeout,
                            follow_redirects=False,
                            proxy=key or None,
                        )
                    )
                headers = request_headers(ctx, hop.url, origin)
                hop.trace.start()
                async with clients[key].stream(
                    "GET", hop.url, headers=headers, extensions={"trace": hop.trace}
                ) as response:
                    body_bytes = 0
                    head = b""
                    async for chunk in response.aiter_bytes():
                        body_bytes += len(chunk)
                        if len(head) < READ_CAP:
                            head += chunk[: READ_CAP - len(head)]
                        if body_bytes >= BODY_CAP:
                            break
                    total = time.monotonic() - hop.trace.t0
                location = response.headers.get("location", "")
                hops.append(
                    HttpHop(
                        shown_url(hop.url),
                        response.status_code,
                        clean_text(response.reason_phrase, 80),
                        response.http_version,
                        shown_url(urljoin(hop.url, location)) if location else "",
                    )
                )
                if hop.proxy is not None and hop.proxy.scheme in ("http", "https"):
                    state = answer_state("GET", response.status_code, response.headers.get)
                    if state != "ok":
                        hops.pop()
                        return _proxy_answer(fail, state, response, hop.proxy)
                done = _done(url, response, hops, hop, total, dns_s, body_bytes, sent)
                if response.status_code >= 400:
                    done = _with(
                        done,
                        body_excerpt=excerpt(head, response.headers.get("content-type", "")),
                    )
                if response.is_redirect and location:
                    nxt = urljoin(hop.url, location)
                    if nxt in seen or len(hops) > MAX_REDIRECTS:
                        return _with(done, redirect_loop=True)
                    try:
                        nxt_proxy = proxy_for(parse_target(nxt), env)
                    except TargetError as exc:
                        hop = _Hop(nxt, None, _Trace(tuple(hop.trace.sources)))
                        return fail(FAILED, f"the redirect target is not a usable URL: {exc}")
                    hop = _Hop(nxt, nxt_proxy, _Trace(tuple(hop.trace.sources)))
                    if nxt_proxy is not None and nxt_proxy.scheme not in ("http", "https"):
                        return fail(
                            FAILED,
                            f"it would go through the {nxt_proxy.scheme} proxy {nxt_proxy.shown}, which this probe does not speak",
                        )
                    continue
                return done
    except TimeoutError:
        return _timeout(fail, hop, body_bytes, remaining, "")
    except httpx.TimeoutException as exc:
        return _timeout(fail, hop, body_bytes, remaining, type(exc).__name__)
    except httpx.ProxyError as exc:  # the CONNECT was answered, but not with 2xx
        text = clean_text(str(exc), 160)
        code = int(text.split()[0]) if text[:3].isdigit() else 0
        state = answer_state("CONNECT", code, lambda _name: "")
        return fail(_PROXY_STATES.get(state, PROXY_FAILED), f"CONNECT answered {text}")
    except (httpx.HTTPError, OSError) as exc:
        return fail(*_classify(exc, hop))
    except ValueError as exc:
        return fail(FAILED, clean_text(str(exc) or type(exc).__name__, 160))


_PROXY_STATES = {
    "auth_required": PROXY_AUTH_REQUIRED,
    "upstream_failed": PROXY_UPSTREAM_FAILED,
    "failed": PROXY_FAILED,
}


def _proxy_answer(
    fail: Callable[..., HttpData], state: str, response: Any, proxy: ProxyChoice
) -> HttpData:
    from dataclasses import replace

    challenge = clean_text(response.headers.get("proxy-authenticate", ""), 200)
    detail = f"the proxy answered {response.status_code} {clean_text(response.reason_phrase, 80)}"
    if challenge:
        detail += f" (Proxy-Authenticate: {challenge})"
    why = response.headers.get("proxy-status") or response.headers.get("x-squid-error")
    if why:
        detail += f" ({clean_text(why, 160)})"
    data = fail(_PROXY_STATES.get(state, PROXY_FAILED), detail, "headers")
    return replace(data, status=response.status_code, reason=clean_text(response.reason_phrase, 80))


def _timeout(
    fail: Callable[..., HttpData], hop: _Hop, body_bytes: int, limit: float, kind: str
) -> HttpData:
    trace = hop.trace
    phase = trace.phase()
    if hop.proxy is not None and phase == "connect":
        return fail(
            PROXY_UNREACHABLE,
            f"the proxy {hop.proxy.shown} did not accept a connection within {limit:.1f}s",
        )
    if hop.proxy is not None and hop.url.startswith("https:") and not trace.tunnelled:
        return fail(
            PROXY_FAILED,
            f"the proxy {hop.proxy.shown} did not answer the CONNECT within {limit:.1f}s",
        )
    detail = _timeout_detail(phase, body_bytes, limit) + (f" ({kind})" if kind else "")
    return fail(TIMEOUT, detail, phase)


def _classify(exc: BaseException, hop: _Hop) -> tuple[str, str]:
    """(state, detail) for an exchange that ended with *exc*."""
    import httpx

    trace = hop.trace
    text = clean_text(str(exc) or type(exc).__name__, 160)
    lowered = text.lower()
    proxy = hop.proxy.shown if hop.proxy is not None else ""
    reset = _was_reset(exc)
    if proxy and trace.phase() == "connect":
        return PROXY_UNREACHABLE, f"cannot connect to the proxy {proxy}: {text}"
    if proxy and hop.url.startswith("https:") and not trace.tunnelled:
        return PROXY_FAILED, f"the proxy {proxy} hung up on the CONNECT: {text}"
    if isinstance(exc, httpx.RemoteProtocolError) and not _hangup_text(lowered):
        return NOT_HTTP, text  # refined from the raw bytes (probe_http)
    if "ssl" in lowered or "certificate" in lowered or "tls" in lowered:
        return TLS_ERROR, text
    if trace.phase() == "connect":
        if reset:  # the handshake completed and the RST came at once
            return RESET, _root_text(exc) or text
        return CONNECT_ERROR, _connect_detail(_root_text(exc) or text)
    if proxy and not hop.url.startswith("https:"):
        how = "reset" if reset else "closed"
        return (
            PROXY_FAILED,
            f"the proxy {proxy} {how} the connection without an answer: {text}",
        )
    return (RESET, text) if reset else (CLOSED, text)


def _hangup_text(lowered: str) -> bool:
    return any(
        s in lowered
        for s in ("without sending a response", "disconnected", "peer closed", "connection reset")
    )


def _was_reset(exc: BaseException | None) -> bool:
    import errno

    seen = 0
    while exc is not None and seen < 8:
        if isinstance(exc, ConnectionResetError | BrokenPipeError):
            return True
        if isinstance(exc, OSError) and exc.errno in (errno.ECONNRESET, errno.EPIPE):
            return True
        if "reset by peer" in str(exc).lower():
            return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False


def _root_text(exc: BaseException | None) -> str:
    """The innermost OS error behind *exc* (anyio hides it behind "All connection attempts failed")."""
    import errno

    found = ""
    for _ in range(8):
        if exc is None:
            break
        if isinstance(exc, OSError) and exc.errno is not None:
            name = errno.errorcode.get(exc.errno, "") if exc.errno > 0 else ""
            found = clean_text(f"{name + ': ' if name else ''}{exc.strerror or exc}", 160)
        exc = exc.__cause__ or exc.__context__
    return found


def _connect_detail(text: str) -> str:
    lowered = text.lower()
    if "name or service not known" in lowered or "nodename nor servname" in lowered:
        return f"the name does not resolve ({text})"
    if "temporary failure in name resolution" in lowered:
        return f"the name cannot be resolved now ({text})"
    if "refused" in lowered:
        return f"connection refused: nothing listens there ({text})"
    return text


def _timeout_detail(phase: str, body_bytes: int, limit: float) -> str:
    if phase == "body":
        return f"the response started but the body was still arriving after {limit:.1f}s ({body_bytes} bytes so far)"
    if phase in ("headers", "request"):
        return f"connected and sent the request; no response within {limit:.1f}s"
    if phase == "tls":
        return f"the TLS handshake did not finish within {limit:.1f}s"
    return f"could not connect within {limit:.1f}s"


def _stream_socket(stream: Any) -> Any:
    """The TCP socket behind an httpcore network stream, or None."""
    try:
        return stream.get_extra_info("socket")
    except Exception:  # a stream type without the socket: no kernel figures
        return None


def _socket_source(sock: Any) -> str:
    """The local address:port of *sock* ("" when unknown)."""
    from probes.core.target import endpoint

    try:
        host, port = sock.getsockname()[:2]
    except (AttributeError, OSError, TypeError, ValueError):
        return ""
    return endpoint(host, port)


def _socket_rtt(sock: Any) -> float | None:
    """The kernel's handshake RTT of *sock* (None after a retransmitted SYN)."""
    from probes.wire.tcpinfo import kernel_rtt

    if sock is None:
        return None
    kernel = kernel_rtt(sock)
    return None if kernel is None or kernel.retransmits else kernel.rtt_s


def _timings(trace: _Trace, dns_s: float | None, total: float | None) -> HttpTimings:
    sent = [
        t
        for t in (
            trace.last("send_request_headers.complete"),
            trace.last("send_request_body.complete"),
        )
        if t is not None
    ]
    return HttpTimings(
        dns_s=dns_s,
        connect_s=trace.first("connection.connect_tcp.complete"),
        tls_s=trace.first("start_tls.complete"),
        ttfb_s=trace.last("receive_response_headers.complete"),
        total_s=total,
        sent_s=max(sent) if sent else None,
        kernel_rtt_s=trace.kernel_rtt_s,
        kernel_think_s=trace.kernel_think_s,
    )


def _with(data: HttpData, **changes: Any) -> HttpData:
    from dataclasses import replace

    return replace(data, **changes)


def _done(
    url: str,
    response: Any,
    hops: list[HttpHop],
    hop: _Hop,
    total: float,
    dns_s: float | None,
    body_bytes: int,
    sent: tuple[str, ...],
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
        timings=_timings(hop.trace, dns_s, total),
        body_bytes=body_bytes,
        sources=tuple(hop.trace.sources),
        sent_headers=sent,
        proxy=hop.proxy.shown if hop.proxy is not None else "",
        proxy_variable=hop.proxy.variable if hop.proxy is not None else "",
    )


def _failed(
    url: str,
    state: str,
    phase: str,
    detail: str,
    hops: list[HttpHop],
    hop: _Hop,
    dns_s: float | None,
    sent: tuple[str, ...],
) -> HttpData:
    when = ""
    if state in (RESET, CLOSED):
        when = "after the request" if hop.trace.request_sent else "before the request"
    return HttpData(
        url=shown_url(url),
        method="GET",
        state=state,
        hops=tuple(hops),
        timings=_timings(hop.trace, dns_s, time.monotonic() - hop.trace.t0),
        phase=phase,
        sources=tuple(hop.trace.sources),
        detail=detail,
        sent_headers=sent,
        hangup_when=when,
        failed_url=shown_url(hop.url),
        proxy=hop.proxy.shown if hop.proxy is not None else "",
        proxy_variable=hop.proxy.variable if hop.proxy is not None else "",
    )
