"""CORS preflight probe: the OPTIONS request a browser sends before a cross-origin call.

Origin, Access-Control-Request-Method and Access-Control-Request-Headers (the
names of the ``--header`` headers, never their values) are sent; the answer is
checked the way a browser checks it.  A preflight carries no credentials.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from probes.core.context import ProbeContext
from probes.core.model import ProbeError, ProbeResult, Status
from probes.core.sanitize import clean_text

# Without --origin, the page's origin is unknown: these common local development
# origins are tried, and reported as labelled guesses, never as the answer.
DEV_ORIGINS = (
    "http://localhost:3000",  # React, Next.js
    "http://localhost:5173",  # Vite
    "http://localhost:8080",  # Vue CLI, webpack dev server
    "http://localhost:4200",  # Angular
)
GUESSED = "guessed"  # state: no origin given, the dev origins were tried
SIMPLE_METHODS = frozenset({"GET", "HEAD", "POST"})


@dataclass(frozen=True, slots=True)
class CorsData:
    url: str
    origin: str
    origin_given: bool
    method: str
    request_headers: tuple[str, ...]
    state: str  # ok | rejected | failed | guessed (no --origin: DEV_ORIGINS tried)
    status: int = 0
    allow_origin: str = ""
    allow_methods: str = ""
    allow_headers: str = ""
    allow_credentials: str = ""
    problems: tuple[str, ...] = ()
    detail: str = ""
    # guessed: (origin, "" when allowed, else the first problem) for each DEV_ORIGINS entry
    guesses: tuple[tuple[str, str], ...] = ()
    # Vary: Origin — the server answers each origin apart (guessed: seen in any answer)
    varies_by_origin: bool = False


def check_preflight(
    status: int,
    origin: str,
    method: str,
    requested: tuple[str, ...],
    allow_origin: str,
    allow_methods: str,
    allow_headers: str,
) -> tuple[str, ...]:
    problems = []
    if not 200 <= status < 300:
        problems.append(f"the preflight is answered {status}, not 2xx")
    if not allow_origin:
        problems.append("Access-Control-Allow-Origin is missing")
    elif allow_origin not in ("*", origin):
        problems.append(f"Access-Control-Allow-Origin is {allow_origin!r}, not {origin!r}")
    methods = {m.strip().upper() for m in allow_methods.split(",") if m.strip()}
    if (
        method.upper() not in SIMPLE_METHODS
        and "*" not in methods
        and method.upper() not in methods
    ):
        problems.append(f"Access-Control-Allow-Methods does not include {method}")
    allowed = {h.strip().lower() for h in allow_headers.split(",") if h.strip()}
    missing = [h for h in requested if h.lower() not in allowed and "*" not in allowed]
    if missing:
        problems.append(f"Access-Control-Allow-Headers does not include {', '.join(missing)}")
    return tuple(problems)


async def probe_cors(ctx: ProbeContext) -> AsyncIterator[ProbeResult]:
    from probes.proto.http import shown_url, url_for

    started = time.monotonic()
    url = url_for(ctx.target)
    if url is None or (ctx.symptom != "cors" and not ctx.config.origin):
        yield ProbeResult(
            "cors",
            Status.SKIPPED,
            0.0,
            "no CORS check asked for (use --symptom cors or --origin URL)",
        )
        return
    import asyncio

    import httpx

    from probes.proto.tls import verify_context

    origin = ctx.config.origin
    method = ctx.config.cors_method.upper()
    requested = tuple(name.lower() for name, _ in ctx.config.headers)
    base: dict[str, Any] = {
        "url": shown_url(url),
        "origin": origin,
        "origin_given": bool(origin),
        "method": method,
        "request_headers": requested,
    }
    remaining = max(0.1, started + ctx.config.timeout - time.monotonic())
    try:
        async with (
            asyncio.timeout(remaining),
            httpx.AsyncClient(
                trust_env=False, verify=verify_context(ctx.config.ca_file), timeout=remaining
            ) as client,
        ):
            if origin:
                data = await _preflight(client, url, base, origin)
            else:
                data = await _guesses(client, url, base)
    except (TimeoutError, httpx.HTTPError, OSError, ValueError) as exc:
        detail = clean_text(f"{type(exc).__name__}: {exc}", 200)
        data = CorsData(**base, state="failed", detail=detail)
        elapsed = time.monotonic() - started
        yield ProbeResult(
            "cors",
            Status.FAILED,
            elapsed,
            f"preflight failed: {detail}",
            data,
            ProbeError("PREFLIGHT_FAILED", detail, elapsed_s=elapsed),
        )
        return
    elapsed = time.monotonic() - started
    if data.state == GUESSED:
        allowed = [o for o, problem in data.guesses if not problem]
        summary = (
            "no --origin: "
            + (f"allowed for {', '.join(allowed)}" if allowed else "no dev origin allowed")
            + " (guesses)"
        )
        yield ProbeResult("cors", Status.OK, elapsed, summary, data)
    elif data.problems:
        yield ProbeResult(
            "cors",
            Status.FAILED,
            elapsed,
            "; ".join(data.problems),
            data,
            ProbeError("PREFLIGHT_REJECTED", data.problems[0], elapsed_s=elapsed),
        )
    else:
        yield ProbeResult("cors", Status.OK, elapsed, f"preflight from {origin} allowed", data)


async def _preflight(client: Any, url: str, base: dict[str, Any], origin: str) -> CorsData:
    method, requested = base["method"], base["request_headers"]
    headers = {"Origin": origin, "Access-Control-Request-Method": method, "User-Agent": "netmedic"}
    if requested:
        headers["Access-Control-Request-Headers"] = ",".join(requested)
    response = await client.options(url, headers=headers)

    def h(name: str) -> str:
        return clean_text(response.headers.get(name, ""), 200)

    allow_origin = h("access-control-allow-origin")
    allow_methods = h("access-control-allow-methods")
    allow_headers = h("access-control-allow-headers")
    problems = check_preflight(
        response.status_code, origin, method, requested, allow_origin, allow_methods, allow_headers
    )
    return CorsData(
        **{**base, "origin": origin},
        state="rejected" if problems else "ok",
        status=response.status_code,
        allow_origin=allow_origin,
        allow_methods=allow_methods,
        allow_headers=allow_headers,
        allow_credentials=h("access-control-allow-credentials"),
        problems=problems,
        varies_by_origin="origin" in h("vary").lower(),
    )


async def _guesses(client: Any, url: str, base: dict[str, Any]) -> CorsData:
    """No origin given: try the usual local development origins, as labelled guesses."""
    from dataclasses import replace

    results = [await _preflight(client, url, base, origin) for origin in DEV_ORIGINS]
    guesses = tuple((r.origin, r.problems[0] if r.problems else "") for r in results)
    last = results[-1]
    varies = any(r.varies_by_origin for r in results)
    return replace(
        last, origin="", state=GUESSED, problems=(), guesses=guesses, varies_by_origin=varies
    )
