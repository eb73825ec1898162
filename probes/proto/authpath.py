"""A saved service's key, checked where it is needed.

Health paths (Qdrant's ``/healthz``, Confluence's ``/status``) answer without a key,
so a health check that passes says nothing about the key the client sends.  When a
saved service sends headers, one read-only path of its kind that needs them
(``/collections``, ``/rest/api/space``) is asked too, with the same headers.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from probes.core.context import ProbeContext
from probes.core.profiles import KINDS
from probes.core.sanitize import clean_text
from probes.proto.errbody import READ_CAP, excerpt


@dataclass(frozen=True, slots=True)
class AuthPath:
    url: str  # the authenticated path asked (no query values shown)
    status: int = 0  # 0: no answer
    reason: str = ""
    said: str = ""  # the body's own words when refused, sanitised
    detail: str = ""  # why there is no answer


def authed_url(ctx: ProbeContext, url: str) -> str:
    """The kind's authenticated path on *url*'s origin, or "" when none applies."""
    kind = KINDS.get(ctx.config.service_kind)
    if kind is None or not kind.authed or not ctx.config.headers:
        return ""
    parts = urlsplit(url)
    path, _, query = kind.authed.partition("?")
    if parts.path.rstrip("/") == path.rstrip("/"):
        return ""  # the check already asks that path
    return urlunsplit((parts.scheme, parts.netloc, path, query, ""))


async def ask_authed(ctx: ProbeContext, url: str, deadline: float) -> AuthPath:
    """GET *url* with the configured headers (never followed, never shown)."""
    import httpx

    from probes.proto.tls import verify_context

    shown = url.split("?", 1)[0]
    left = max(0.1, deadline - time.monotonic())
    try:
        async with httpx.AsyncClient(
            trust_env=False, verify=verify_context(ctx.config.ca_file), timeout=left
        ) as client:
            headers = {"User-Agent": "netmedic", **dict(ctx.config.headers)}
            response = await client.get(url, headers=headers)
    except (httpx.HTTPError, OSError, ValueError) as exc:
        return AuthPath(shown, detail=clean_text(f"{type(exc).__name__}: {exc}", 160))
    said = ""
    if response.status_code >= 400:
        said = excerpt(response.content[:READ_CAP], response.headers.get("content-type", ""))
    return AuthPath(shown, response.status_code, clean_text(response.reason_phrase, 80), said)
