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
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, replace
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


def _env(ctx: ProbeContext) -> Mapping[str, str]:
    return dict(ctx.config.proxy_env) if ctx.config.proxy_env is not None else os.environ


def redact_proxy(value: str) -> str:
    """A proxy setting without its password, with or without a scheme (``user:pw@host:3128``)."""
    if "://" in value or "@" not in value:
        return clean_text(redact_url_credentials(value), 300)
    return clean_text("***@" + value.rpartition("@")[2], 300)


def settings(env: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple((var, redact_proxy(env[var])) for var in PROXY_VARS if env.get(var))


def select_proxy(target: Target, env: Mapping[str, str]) -> tuple[str, str]:
    """(variable, value) of the proxy a client would use for *target*, or ("", "")."""
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
        if env.get(var):
            return var, env[var]
    return "", ""


def no_proxy_match(target: Target, env: Mapping[str, str]) -> str:
    """The NO_PROXY entry that bypasses the proxy for *target*, or ""."""
    raw = env.get("no_proxy") or env.get("NO_PROXY") or ""
    host = target.host.lower()
    for entry in raw.replace(" ", ",").split(","):
        entry = entry.strip().lower()
        if not entry:
            continue
        if entry == "*":
            return entry
        name, port = entry, ""
        if entry.count(":") == 1 and not entry.startswith("["):
            name, _, port = entry.partition(":")
        name = name.strip("[]")
        if port and port != str(target.port):
            continue
        if target.is_ip:
            try:
                if ipaddress.ip_address(host) in ipaddress.ip_network(name, strict=False):
                    return entry
            except ValueError:
                pass
            continue
        bare = name.lstrip("*").lstrip(".")
        if bare and (host == bare or host.endswith("." + bare)):
            return entry
    return ""


async def probe_proxy(ctx: ProbeContext) -> AsyncIterator[ProbeResult]:
    started = time.monotonic()
    env = _env(ctx)
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
    if status == 407:
        return replace(common, state=AUTH_REQUIRED, detail=f"{status} {reason}")
    if status in (502, 503, 504):
        return replace(common, state=UPSTREAM_FAILED, detail=f"{status} {reason}")
    return replace(common, state=OK, detail=f"{status} {reason}")
