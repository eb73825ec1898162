"""What a pasted error says beyond its symptom, made into the check's plan.

An engineer reading ``FATAL: no pg_hba.conf entry for host "10.0.0.7", user "app",
database "appdb", no encryption`` logs in as ``app`` to ``appdb`` without TLS to see the
same answer; reading ``keepalive ping timeout`` they ping the WebSocket and hold it
open; reading a browser's CORS refusal they send the preflight.  :func:`shape` does
the same from the text: the service it names (PostgreSQL, Redis), the user, database
and sslmode of a libpq message, protocol behaviour (keep-alive pings, idle cuts) and
CORS, each with the reason the plan shows.  What only the application saw (its
password was refused) travels as a report the rules may weigh, never as a result.

The text was redacted before it got here; nothing is invented: a part the text does
not name is left as the target has it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, urlencode

from probes.core.events import PlanStep
from probes.core.target import Target, TargetError, parse_target

# Reports the application makes that no probe can see for itself.
PASSWORD_REJECTED = "password_rejected"

IDLE_HOLD_S = 70.0  # past the usual 60 s idle timeouts of proxies and load balancers

_POSTGRES = re.compile(
    r"psycopg|postgres|\blibpq\b|\bpsql\b|pg_hba\.conf|\bSQLSTATE\b|\bPG::|asyncpg|"
    r"too many clients already|database system is",
    re.IGNORECASE,
)
_REDIS = re.compile(r"\bredis\b|\bNOAUTH\b|\bWRONGPASS\b|\bMISCONF\b|max number of clients")
_USER = re.compile(r'\b(?:user|role) "(?P<v>[^"\s]{1,63})"')
_DATABASE = re.compile(r'\bdatabase "(?P<v>[^"\s]{1,63})"')
_SSLMODE = re.compile(r"\bsslmode=(?P<v>disable|allow|prefer|require|verify-ca|verify-full)\b")
# pg_hba.conf messages end with how the client connected (PostgreSQL 14+, then older).
_ENCRYPTION = (
    (re.compile(r", no encryption\b|, SSL off\b"), "disable"),
    (re.compile(r", (?:SSL|GSS) encryption\b|, SSL on\b"), "require"),
)
_PASSWORD = re.compile(r"password authentication failed", re.IGNORECASE)
_WS_IDLE = re.compile(
    r"keepalive ping timeout|ping timeout|pong (?:not received|timeout)|no pong|"
    r"Tunnel client disconnected|idle timeout|\bidle\b|\b1006\b|closed abnormally|"
    r"going away|no close frame received",
    re.IGNORECASE,
)
_WS = re.compile(r"web ?socket|\bwss?://|\bws\b", re.IGNORECASE)
_CORS = re.compile(
    r"\bCORS\b|Access-Control-Allow-|Cross-Origin Request Blocked|preflight", re.IGNORECASE
)


@dataclass(frozen=True, slots=True)
class Shaped:
    """The check the pasted error asks for."""

    target: Target
    steps: tuple[tuple[str, str], ...] = ()  # (probe, reason) to add to the first plan
    ws_hold: float | None = None  # hold a WebSocket open this long
    reports: tuple[str, ...] = ()  # what the application reports (PASSWORD_REJECTED)
    changed: tuple[str, ...] = ()  # what the text filled in ("user app", ...), for the plan

    def plan_steps(self, planned: Sequence[str]) -> list[PlanStep]:
        """The probes to add to a first plan holding *planned*, each with its reason."""
        return [PlanStep(name, reason) for name, reason in self.steps if name not in planned]


def shape(text: str, target: Target, hold: float | None = None) -> Shaped:
    """The plan *text* asks for against *target* (its missing parts filled from the text)."""
    steps: list[tuple[str, str]] = []
    changed: list[str] = []
    reports: list[str] = []
    service = _service(text, target)
    if service == "postgres":
        target, changed = _postgres_target(text, target)
        if _PASSWORD.search(text):
            reports.append(PASSWORD_REJECTED)
    elif service == "redis" and target.scheme == "tcp":
        target = _rebuilt(target, "redis", target.path if target.path != "/" else "") or target
    if service:
        said = f" ({', '.join(changed)})" if changed else ""
        steps.append(("service", f"the pasted error is from {_NAMES[service]}{said}"))
    ws_hold = None
    if _WS_IDLE.search(text) and (target.scheme in ("ws", "wss") or _WS.search(text)):
        steps.append(("ws", "the pasted error tells of a WebSocket cut: ping it and hold it open"))
        ws_hold = hold if hold is not None else IDLE_HOLD_S
    if _CORS.search(text):
        steps.append(("cors", "the pasted error is a browser's CORS refusal: send the preflight"))
    return Shaped(target, tuple(steps), ws_hold, tuple(reports), tuple(changed))


_NAMES = {"postgres": "PostgreSQL", "redis": "Redis"}


def _service(text: str, target: Target) -> str:
    if target.scheme in ("postgres", "postgresql"):
        return "postgres"
    if target.scheme in ("redis", "rediss"):
        return "redis"
    if target.scheme != "tcp":
        return ""
    if _POSTGRES.search(text):
        return "postgres"
    if _REDIS.search(text):
        return "redis"
    return ""


def _postgres_target(text: str, target: Target) -> tuple[Target, list[str]]:
    """*target* as postgres:// with the user, database and sslmode the text names
    (the last libpq message counts: a traceback ends with the error that matters)."""
    path, _, query = target.path.partition("?")
    params = parse_qsl(query, keep_blank_values=True)
    changed: list[str] = []
    user = target.username
    if not user and (found := _last(_USER, text)):
        user = found
        changed.append(f"user {found}")
    database = path.lstrip("/")
    if not database and (found := _last(_DATABASE, text)):
        database = found
        changed.append(f"database {found}")
    if not any(k.lower() == "sslmode" for k, _ in params):
        mode = _last(_SSLMODE, text) or next(
            (m for pattern, m in _ENCRYPTION if pattern.search(text)), ""
        )
        if mode:
            params.append(("sslmode", mode))
            changed.append(f"sslmode={mode}")
    rebuilt = _rebuilt(
        target,
        "postgres",
        "/" + quote(database, safe="") + (f"?{urlencode(params)}" if params else ""),
        user,
    )
    return (rebuilt, changed) if rebuilt is not None else (target, [])


def _last(pattern: re.Pattern[str], text: str) -> str:
    found = list(pattern.finditer(text))
    return found[-1].group("v") if found else ""


def _rebuilt(target: Target, scheme: str, path: str, user: str = "") -> Target | None:
    host = f"[{target.host}]" if target.ip_version == 6 else target.host
    user = user or target.username
    userinfo = ""
    if user or target.password:
        userinfo = quote(user, safe="")
        if target.password:
            userinfo += ":" + quote(target.password, safe="")
        userinfo += "@"
    try:
        return parse_target(f"{scheme}://{userinfo}{host}:{target.port}{path}")
    except TargetError:
        return None
