"""Proxy probe: which proxy settings apply to the target, and does the proxy work.

Reports every proxy variable (upper- and lower-case; passwords removed), picks
the one a client would use for this target (lower-case first, as curl and
Python do), says whether NO_PROXY bypasses the target, then compares a direct
TCP connect with a request through the proxy (``GET absolute-URI`` for http,
``CONNECT`` for https).  A 407 is recorded with its realm.  Proxy credentials
are sent to the proxy only and never reported.
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import os
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field, replace
from urllib.parse import unquote, urlsplit

from probes.core.context import ProbeContext
from probes.core.model import ProbeError, ProbeResult, Status
from probes.core.options import PROXY_VARS
from probes.core.redact import redact_url_credentials
from probes.core.sanitize import clean_bytes, clean_text
from probes.core.target import Target
from probes.proto.httphead import NotHttp, exchange, parse_head

OK, AUTH_REQUIRED, UNREACHABLE, UPSTREAM_FAILED, FAILED, NOT_PROBED = (
    "ok",
    "auth_required",
    "unreachable",
    "upstream_failed",
    "failed",
    "not_probed",
)


@dataclass(frozen=True, slots=True)
class ProxyData:
    settings: tuple[tuple[str, str], ...]  # (variable, value without password)
    applies: bool  # a proxy would be used for this target
    variable: str = ""  # the variable that selects the proxy
    proxy: str = ""  # its URL without credentials
    bypassed_by: str = ""  # the NO_PROXY entry that matches the target
    state: str = NOT_PROBED  # ok | auth_required | unreachable | upstream_failed | failed
    detail: str = ""
    method: str = ""  # "CONNECT" or "GET"
    status: int = 0
    reason: str = ""
    proxy_authenticate: str = ""
    via: str = ""
    credentials_sent: bool = False
    direct_state: str = ""  # tcp state of a direct connect to the target
    direct_detail: str = ""


def redact_proxy(value: str) -> str:
    """A proxy setting without its password, with or without a scheme (``user:pw@host:3128``)."""
    if "://" in value or "@" not in value:
        return clean_text(redact_url_credentials(value), 300)
    return clean_text("***@" + value.rpartition("@")[2], 300)


def settings(env: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple((var, redact_proxy(env[var])) for var in PROXY_VARS if env.get(var))


@dataclass(frozen=True, slots=True)
class ProxyChoice:
    """The proxy a client would use for one URL."""

    variable: str  # the variable that selects it (https_proxy, ALL_PROXY...)
    url: str = field(repr=False)  # as configured, credentials included: never shown
    shown: str = ""  # the URL without credentials

    @property
    def scheme(self) -> str:
        return urlsplit(self.url if "://" in self.url else f"http://{self.url}").scheme.lower()

    @property
    def http_url(self) -> str:
        """The URL with a scheme (a bare ``host:port`` means an HTTP proxy)."""
        return self.url if "://" in self.url else f"http://{self.url}"


def proxy_env(ctx: ProbeContext) -> Mapping[str, str]:
    """The proxy variables of this run (the config seam, else the environment)."""
    return dict(ctx.config.proxy_env) if ctx.config.proxy_env is not None else os.environ


def proxy_for(target: Target, env: Mapping[str, str]) -> ProxyChoice | None:
    """The proxy a client (curl, httpx, requests) would use for *target*; None = direct."""
    var, value = select_proxy(target, env)
    if not var or no_proxy_match(target, env):
        return None
    return ProxyChoice(var, value, redact_proxy(value))


def select_proxy(target: Target, env: Mapping[str, str]) -> tuple[str, str]:
    """(variable, value) of the proxy a client would use for *target*, or ("", "").

    Lower-case variables first (curl, httpx, requests); ``https_proxy`` for TLS
    targets, ``http_proxy`` for plain ones, ``all_proxy`` for both.
    """
    secure = target.scheme in ("https", "wss", "tls") or (
        target.scheme == "tcp" and target.port == 443
    )
    httpish = target.scheme in ("http", "https", "ws", "wss") or (
        target.scheme == "tcp" and target.port in (80, 443)
    )
    if not httpish:  # database and other TCP clients do not use HTTP proxies
        return "", ""
    names = ("https_proxy", "HTTPS_PROXY") if secure else ("http_proxy", "HTTP_PROXY")
    for var in (*names, "all_proxy", "ALL_PROXY"):
        if env.get(var, "").strip():
            return var, env[var].strip()
    return "", ""


def _no_proxy_entry(entry: str) -> tuple[str, str]:
    """(host or network, port) of one NO_PROXY entry: ``host``, ``host:port``,
    ``[v6]``, ``[v6]:port``, ``v6``, ``10.0.0.0/8``."""
    if entry.startswith("["):
        host, _, rest = entry[1:].partition("]")
        return host, rest[1:] if rest.startswith(":") else ""
    if entry.count(":") == 1:
        host, _, port = entry.partition(":")
        return host, port
    return entry, ""  # a name, an IPv4 address or network, or a bare IPv6 address


def no_proxy_match(target: Target, env: Mapping[str, str]) -> str:
    """The NO_PROXY entry that bypasses the proxy for *target*, or "".

    curl/httpx semantics: ``*`` matches everything; a name matches itself and
    its subdomains (a leading ``.`` or ``*.`` is ignored); an IP address or
    CIDR network matches address targets inside it (names are not resolved
    for this, as no client does); ``:port`` restricts an entry to that port.
    """
    raw = env.get("no_proxy") if env.get("no_proxy") is not None else env.get("NO_PROXY")
    host = target.host.lower().rstrip(".")
    for entry in (raw or "").replace(" ", ",").split(","):
        entry = entry.strip().lower()
        if not entry:
            continue
        if entry == "*":
            return entry
        name, port = _no_proxy_entry(entry)
        if port and port != str(target.port):
            continue
        if target.is_ip:
            try:
                if ipaddress.ip_address(host) in ipaddress.ip_network(name, strict=False):
                    return entry
            except ValueError:
                pass
            continue
        bare = name.removeprefix("*").lstrip(".").rstrip(".")
        if bare and (host == bare or host.endswith("." + bare)):
            return entry
    return ""


async def probe_proxy(ctx: ProbeContext) -> AsyncIterator[ProbeResult]:
    started = time.monotonic()
    env = proxy_env(ctx)
    target = ctx.target
    found = settings(env)
    var, value = select_proxy(target, env)
    if not var:
        data = ProxyData(found, False)
        why = "no proxy variable applies to this target" if found else "no proxy is configured"
        yield ProbeResult("proxy", Status.SKIPPED, 0.0, why, data)
        return
    shown = redact_proxy(value)
    bypass = no_proxy_match(target, env)
    if bypass:
        data = ProxyData(found, False, var, shown, bypass)
        yield ProbeResult(
            "proxy", Status.SKIPPED, 0.0, f"NO_PROXY entry {bypass!r} bypasses {var}", data
        )
        return
    deadline = started + ctx.config.timeout
    direct_task = asyncio.ensure_future(_direct(ctx, deadline))
    data = await _through(ctx, var, value, shown, found, deadline)
    direct_state, direct_detail = await direct_task
    data = replace(data, direct_state=direct_state, direct_detail=direct_detail)
    elapsed = time.monotonic() - started
    summary = f"{var}={shown}: {data.state}" + (
        f" ({data.status} {data.reason})" if data.status else ""
    )
    if data.state == OK:
        yield ProbeResult("proxy", Status.OK, elapsed, summary, data)
    elif data.state == NOT_PROBED:
        yield ProbeResult("proxy", Status.SKIPPED, elapsed, f"{summary}: {data.detail}", data)
    else:
        err = ProbeError(data.state.upper(), data.detail, answered_by=shown, elapsed_s=elapsed)
        yield ProbeResult("proxy", Status.FAILED, elapsed, summary, data, err)


async def _direct(ctx: ProbeContext, deadline: float) -> tuple[str, str]:
    from probes.wire.connect import connect_once

    resolution = await ctx.resolution()
    if not resolution.addresses:
        return "unresolved", "the target's name does not resolve here"
    attempt = await connect_once(
        resolution.addresses[0], ctx.target.port, max(0.1, deadline - time.monotonic() - 0.2), 0
    )
    return attempt.state, attempt.explanation


async def _through(
    ctx: ProbeContext,
    var: str,
    value: str,
    shown: str,
    found: tuple[tuple[str, str], ...],
    deadline: float,
) -> ProxyData:
    target = ctx.target
    url = value if "://" in value else f"http://{value}"
    try:
        parts = urlsplit(url)
        port = parts.port or (
            443 if parts.scheme == "https" else 1080 if "socks" in parts.scheme else 80
        )
    except ValueError:
        return ProxyData(
            found, True, var, shown, state=FAILED, detail="the proxy URL does not parse"
        )
    host = parts.hostname or ""
    if parts.scheme == "https":
        from probes.proto.proxyscheme import plain_proxy_detail

        wrong = await plain_proxy_detail(url, var, shown, deadline)
        if wrong:
            return ProxyData(found, True, var, shown, state=FAILED, detail=wrong)
    if parts.scheme not in ("http",):
        return ProxyData(
            found,
            True,
            var,
            shown,
            state=NOT_PROBED,
            detail=f"{parts.scheme} proxies are not probed",
        )
    secure = target.scheme in ("https", "wss") or target.port == 443
    authority = target.host_port
    lines: list[str]
    if secure:
        method = "CONNECT"
        lines = [f"CONNECT {authority} HTTP/1.1", f"Host: {authority}"]
    else:
        method = "GET"
        path = target.path or "/"
        lines = [f"GET http://{authority}{path} HTTP/1.1", f"Host: {authority}"]
    creds = bool(parts.username)
    if creds:
        user = unquote(parts.username or "")
        password = unquote(parts.password or "")
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        lines.append(f"Proxy-Authorization: Basic {token}")
    lines += ["User-Agent: netmedic", "Connection: close", "", ""]
    request = "\r\n".join(lines).encode()
    base = ProxyData(found, True, var, shown, state=FAILED, method=method, credentials_sent=creds)
    try:
        async with asyncio.timeout(max(0.1, deadline - time.monotonic())):
            try:
                reader, writer = await asyncio.open_connection(host, port)
            except OSError as exc:
                return replace(
                    base,
                    state=UNREACHABLE,
                    detail=clean_text(
                        f"cannot connect to the proxy {host}:{port}: {exc.strerror or exc}", 200
                    ),
                )
            head = await exchange(reader, writer, request)
    except TimeoutError:
        return replace(
            base, state=UNREACHABLE, detail=f"the proxy {host}:{port} did not answer in time"
        )
    except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
        return replace(
            base, state=FAILED, detail=clean_text(f"the proxy closed the connection: {exc}", 200)
        )
    try:
        response = parse_head(head)
    except NotHttp:
        return replace(
            base, state=FAILED, detail=f"not an HTTP proxy: {clean_bytes(head[:80], 80)!r}"
        )
    status, reason = response.status, response.reason
    common = replace(
        base,
        status=status,
        reason=reason,
        proxy_authenticate=response.get("proxy-authenticate"),
        via=response.get("via"),
    )
    state = answer_state(method, status, response.get)
    return replace(common, state=state, detail=f"{status} {reason}")


def answer_state(method: str, status: int, header: Callable[[str], str]) -> str:
    """What a proxy's answer means: ok | auth_required | upstream_failed | failed.

    A CONNECT must be answered 2xx; 502/503/504 say the proxy could not reach
    the site, anything else is a refusal (ACL, policy).  Through a forwarding
    proxy (absolute-URI GET) the status is usually the site's own: a 502/503/504
    is the proxy's only when its error page says so (``Proxy-Status``, RFC 9209,
    or Squid's ``X-Squid-Error``).
    """
    if status == 407:
        return AUTH_REQUIRED
    if method == "CONNECT":
        if 200 <= status < 300:
            return OK
        return UPSTREAM_FAILED if status in (502, 503, 504) else FAILED
    if status in (502, 503, 504) and (header("proxy-status") or header("x-squid-error")):
        return UPSTREAM_FAILED
    return OK
