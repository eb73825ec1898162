"""Service-protocol rules: Redis and PostgreSQL answer, want auth, or are something else."""

from __future__ import annotations

from collections.abc import Iterator

from probes.core.model import Finding, NextStep, Severity
from probes.diagnosis.evidence import Evidence, q
from probes.proto.service import (
    AUTH_FAILED,
    AUTH_REQUIRED,
    FAILED,
    OK,
    TIMEOUT,
    TOO_MANY,
    UNAVAILABLE,
    WRONG_PROTOCOL,
    ServiceData,
)


def _lines(data: ServiceData) -> list[str]:
    lines = [f"{data.service} at {data.address}:{data.port}: {data.detail}"]
    if data.reply:
        lines.append(f"server replied: {data.reply}")
    if data.tls_offered:
        lines.append(
            f"SSLRequest answered: {'S (TLS offered)' if data.tls_offered == 'yes' else 'N (no TLS)'}"
        )
    if data.auth_method:
        lines.append(f"authentication asked for: {data.auth_method}")
    lines.append(
        "credentials were sent (hidden)" if data.credentials_sent else "no credentials were sent"
    )
    return lines


def _client(ev: Evidence, data: ServiceData) -> str:
    t = ev.target
    if data.service == "redis":
        tls = " --tls" if t.scheme == "rediss" else ""
        return f"redis-cli -h {q(t.host)} -p {t.port}{tls} --askpass PING"
    user = t.username or "postgres"
    mode = data.sslmode or "prefer"
    return f"psql {q(f'host={t.host} port={t.port} user={user} sslmode={mode}')} -c 'select 1'"


def service_findings(ev: Evidence) -> Iterator[Finding]:
    data = ev.data("service", ServiceData)
    if data is None:
        return
    lines = tuple(_lines(data))
    name = "Redis" if data.service == "redis" else "PostgreSQL"
    where = f"{ev.target.host}:{ev.target.port}"
    if data.state == OK:
        yield Finding("service.ok", Severity.OK, f"{name} answers on {where}", lines)
    elif data.state == AUTH_REQUIRED:
        yield Finding(
            "service.auth_required",
            Severity.ERROR,
            f"{name} on {where} requires authentication (NOAUTH)",
            lines,
            (
                NextStep("Give the client the password (URL user:password@ or its config)"),
                NextStep("Check by hand", _client(ev, data)),
            ),
        )
    elif data.state == AUTH_FAILED:
        yield Finding(
            "service.auth_failed",
            Severity.ERROR,
            f"{name} on {where} rejects the credentials: {data.detail}",
            lines,
            (
                NextStep(
                    "Check the user and password the client uses"
                    if data.service == "redis"
                    else "Check pg_hba.conf for a line matching this host, user, database and SSL mode, then reload"
                ),
                NextStep("Check by hand", _client(ev, data)),
            ),
        )
    elif data.state == WRONG_PROTOCOL:
        spoken = data.protocol_seen or "something else"
        yield Finding(
            "service.wrong_protocol",
            Severity.ERROR,
            f"port {ev.target.port} on {ev.target.host} is not {name}: it speaks {spoken}",
            lines,
            (
                NextStep(
                    f"Check the port in the client's configuration ({name} usually listens on {6379 if data.service == 'redis' else 5432})"
                ),
                NextStep("See what listens there", f"nc -v {q(ev.target.host)} {ev.target.port}"),
            ),
        )
    elif data.state == TOO_MANY:
        yield Finding(
            "service.too_many_connections",
            Severity.ERROR,
            f"{name} on {where} refuses new connections: too many clients ({data.reply or data.detail})",
            lines,
            (
                NextStep("See who holds the connections", "redis-cli INFO clients")
                if data.service == "redis"
                else NextStep(
                    "See who holds the connections",
                    "psql -c 'select usename, application_name, client_addr, state from pg_stat_activity'",
                ),
                NextStep(
                    "Close idle clients or raise maxclients (CONFIG GET maxclients; check ulimit -n too)"
                    if data.service == "redis"
                    else "Use a pooler (pgbouncer) or raise max_connections"
                ),
            ),
        )
    elif data.state == UNAVAILABLE:
        yield Finding(
            "service.unavailable",
            Severity.ERROR,
            f"{name} on {where} cannot serve now: {data.detail}"
            + (f" ({data.reply})" if data.reply else ""),
            lines,
            (
                NextStep(
                    "Wait for start-up to finish, or check the service log and state",
                    "redis-cli INFO persistence" if data.service == "redis" else None,
                ),
            ),
        )
    elif data.state in (FAILED, TIMEOUT):
        yield _failed(ev, data, name, where, lines)


def _failed(
    ev: Evidence, data: ServiceData, name: str, where: str, lines: tuple[str, ...]
) -> Finding:
    """The exchange broke off: say how (refused, reset, silent, or an odd answer)."""
    detail = data.detail.lower()
    if "refused" in detail:
        return Finding(
            "tcp.refused",
            Severity.ERROR,
            f"{where} refuses the connection: nothing listens there",
            lines,
            (NextStep("See what listens", f"ss -ltnp 'sport = :{ev.target.port}'"),),
        )
    if "reset" in detail or "closed the connection" in detail or "incompleteread" in detail:
        return Finding(
            "tcp.reset_after_connect",
            Severity.ERROR,
            f"{where} accepts the connection and drops it without a {name} answer",
            lines,
            (NextStep("Check the service's log and its connection limits"),),
        )
    why = (
        "does not answer its protocol in time"
        if data.state == TIMEOUT
        else f"answers in a way it should not: {data.detail}"
    )
    return Finding(
        "service.unavailable",
        Severity.ERROR,
        f"{name} on {where} {why}",
        lines,
        (NextStep("Check by hand", _client(ev, data)), NextStep("Check the service's log")),
    )


RULES = (service_findings,)
