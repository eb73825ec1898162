"""Service-protocol rules: Redis and PostgreSQL answer, want auth, or are something else."""

from __future__ import annotations

from collections.abc import Iterator

from probes.core.model import Finding, NextStep, Severity
from probes.core.target import Target
from probes.diagnosis.evidence import Evidence, q
from probes.diagnosis.owner_steps import PortOwner, port_owner
from probes.diagnosis.service_commands import psql, redis_cli
from probes.proto.service import (
    AUTH_FAILED,
    AUTH_REQUIRED,
    FAILED,
    NAMES,
    NO_DATABASE,
    OK,
    STANDARD_PORT,
    TIMEOUT,
    TOO_MANY,
    UNAVAILABLE,
    WRONG_PROTOCOL,
    ServiceData,
)
from probes.triage.shaping import PASSWORD_REJECTED


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
    if data.sqlstate:
        lines.append(f"SQLSTATE {data.sqlstate}: {data.reply}")
    lines.append(
        "credentials were sent (hidden)" if data.credentials_sent else "no credentials were sent"
    )
    return lines


def _client(ev: Evidence, data: ServiceData) -> str:
    t = ev.target
    if data.service == "ssh":  # -v shows the methods offered; BatchMode never prompts
        who = f"{t.username}@{t.host}" if t.username else t.host
        return f"ssh -v -o BatchMode=yes -p {t.port} -- {q(who)} true"
    if data.service == "redis":
        return redis_cli(t, "PING")
    return psql(t, "select 1", sslmode=data.sslmode or "prefer")


def _pg_auth_step(data: ServiceData) -> str:
    """What to fix, from the server's own message (28000 covers several causes)."""
    said = data.reply.lower()
    if "pg_hba" in said:
        return "pg_hba.conf has no line that lets this host, user, database and SSL mode in (or a reject line matches): add one, then reload (SELECT pg_reload_conf())"
    if "does not exist" in said:
        return (
            "The role does not exist on this server: check the user name, or CREATE ROLE ... LOGIN"
        )
    if "password" in said:
        return "The password is wrong (or expired: VALID UNTIL): check the one the client uses"
    return (
        "Check pg_hba.conf for a line matching this host, user, database and SSL mode, then reload"
    )


def service_findings(ev: Evidence) -> Iterator[Finding]:
    data = ev.data("service", ServiceData)
    if data is None:
        return
    lines = tuple(_lines(data))
    name = NAMES.get(data.service, data.service)
    where = f"{ev.target.host}:{ev.target.port}"
    if data.state == OK and _password_reported(data):
        yield _password_rejected(ev, data, lines)
    elif data.state == OK:
        said = tuple(f"{k}: {v}" for k, v in data.info)
        title = f"{name} answers on {where}"
        if data.service == "ssh":  # what an ssh:// check is for, in the one line
            title += f": {data.detail}"
        yield Finding("service.ok", Severity.OK, title, (*lines, *said))
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
                    else _pg_auth_step(data)
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
                    f"Check the port in the client's configuration ({name} usually listens on {STANDARD_PORT.get(data.service, '?')})"
                ),
                NextStep("See what listens there", f"nc -v {q(ev.target.host)} {ev.target.port}"),
            ),
        )
    elif data.state == NO_DATABASE:
        yield Finding(
            "service.no_database",
            Severity.ERROR,
            f"{name} on {where} answers, but the database does not exist: {data.reply}",
            lines,
            (
                NextStep("Check the database name in the client's URL or configuration"),
                NextStep(
                    "List the databases there",
                    psql(ev.target, "", "postgres", "", "-l"),
                ),
            ),
        )
    elif data.state == TOO_MANY:
        yield Finding(
            "service.too_many_connections",
            Severity.ERROR,
            f"{name} on {where} refuses new connections: too many clients ({data.reply or data.detail})",
            lines,
            (
                NextStep("See who holds the connections", redis_cli(ev.target, "INFO", "clients"))
                if data.service == "redis"
                else NextStep(
                    "See who holds the connections (a superuser still gets in: "
                    "superuser_reserved_connections)",
                    psql(
                        ev.target,
                        "select usename, application_name, client_addr, state from pg_stat_activity",
                        "postgres",
                    ),
                ),
                NextStep(
                    "Close idle clients or raise maxclients (CONFIG GET maxclients; check ulimit -n too)"
                    if data.service == "redis"
                    else "Use a pooler (pgbouncer) or raise max_connections"
                ),
            ),
        )
    elif data.state == UNAVAILABLE and data.reply.upper().startswith("-MISCONF"):
        # The most specific reading: Redis runs, and refuses writes because it cannot save.
        yield from _redis_persistence(ev.target, data, where, (*lines, *_said(data)), True)
    elif data.state == UNAVAILABLE:
        owner = port_owner(ev)
        yield Finding(
            "service.unavailable",
            Severity.ERROR,
            f"{name} on {where} cannot serve now: {data.detail}"
            + (f" ({data.reply})" if data.reply else ""),
            _with_owner(lines, owner),
            (
                NextStep(
                    "Wait for start-up to finish, or check the service log and state",
                    redis_cli(ev.target, "INFO", "persistence")
                    if data.service == "redis"
                    else None,
                ),
                *(owner.steps if owner else ()),
            ),
        )
    elif data.state in (FAILED, TIMEOUT):
        yield _failed(ev, data, name, where, lines)


_PASSWORD_METHODS = ("cleartext password", "MD5 password", "SASL")


def _password_reported(data: ServiceData) -> bool:
    """The application says its password was refused, and the server does ask this user
    for one (netmedic, without that password, cannot try it itself)."""
    return (
        PASSWORD_REJECTED in data.app_reports
        and not data.credentials_sent
        and data.auth_method.startswith(_PASSWORD_METHODS)
    )


def _password_rejected(ev: Evidence, data: ServiceData, lines: tuple[str, ...]) -> Finding:
    user = ev.target.username or "postgres"
    where = f"{ev.target.host}:{ev.target.port}"
    return Finding(
        "service.auth_failed",
        Severity.ERROR,
        f"PostgreSQL on {where} asks {user} for a password ({data.auth_method}), and the "
        "application says its password was rejected",
        (
            *lines,
            "the application's error: password authentication failed",
            "netmedic has no password to try: the server runs, reaches pg_hba.conf and "
            f"wants a password from {user}, so the password (or its expiry) is what fails",
        ),
        (
            NextStep(
                "Check the password the client uses (and VALID UNTIL on the role); test it by hand",
                _client(ev, data),
            ),
        ),
    )


def _failed(
    ev: Evidence, data: ServiceData, name: str, where: str, lines: tuple[str, ...]
) -> Finding:
    """The exchange broke off: say how (refused, reset, silent, or an odd answer)."""
    detail = data.detail.lower()
    owner = port_owner(ev)
    named = owner.steps if owner else ()
    if "refused" in detail:
        return Finding(
            "tcp.refused",
            Severity.ERROR,
            f"{where} refuses the connection: nothing listens there",
            _with_owner(lines, owner),
            (NextStep("See what listens", f"ss -ltnp 'sport = :{ev.target.port}'"), *named),
        )
    if "reset" in detail or "closed the connection" in detail or "incompleteread" in detail:
        return Finding(
            "tcp.reset_after_connect",
            Severity.ERROR,
            f"{where} accepts the connection and drops it without a {name} answer",
            _with_owner(lines, owner),
            (NextStep("Check the service's log and its connection limits"), *named),
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
        _with_owner(lines, owner),
        (NextStep("Check by hand", _client(ev, data)), NextStep("Check the service's log"), *named),
    )


def _with_owner(lines: tuple[str, ...], owner: PortOwner | None) -> tuple[str, ...]:
    """The evidence, plus what names the unit or container the steps point at."""
    return (*lines, owner.why) if owner else lines


NEAR = 0.9  # a limit is "near" at 90 % of it


def _mib(n: int) -> str:
    return f"{n / 1048576:.1f} MiB"


def service_limits(ev: Evidence) -> Iterator[Finding]:
    """What the service says about itself (Redis INFO, PostgreSQL settings): each limit
    reached or near becomes a finding with its numbers."""
    data = ev.data("service", ServiceData)
    if data is None or data.state != OK or not data.info:
        return
    name = NAMES.get(data.service, data.service)
    where = f"{ev.target.host}:{ev.target.port}"
    lines = tuple(f"{k}: {v}" for k, v in data.info)
    t = ev.target
    yield from _connections(t, data, name, where, lines)
    if data.service == "redis":
        yield from _redis_memory(t, data, where, lines)
        yield from _redis_persistence(t, data, where, lines)
    yield from _replica(t, data, name, where, lines)


def _connections(
    t: Target, data: ServiceData, name: str, where: str, lines: tuple[str, ...]
) -> Iterator[Finding]:
    if data.service == "redis":
        used, limit = data.number("connected_clients"), data.number("maxclients")
        what = "connected_clients / maxclients"
        look = NextStep("See who holds the connections", redis_cli(t, "CLIENT", "LIST"))
    else:
        used, limit = data.number("connections"), data.number("max_connections")
        reserved = max(0, data.number("superuser_reserved_connections"))
        limit = limit - reserved if limit > reserved else limit
        what = "connections in pg_stat_activity / max_connections minus superuser_reserved"
        look = NextStep(
            "See who holds the connections",
            psql(
                t,
                "select usename, application_name, client_addr, state, count(*) "
                "from pg_stat_activity group by 1, 2, 3, 4 order by 5 desc",
            ),
        )
    if used < 0 or limit <= 0 or used < NEAR * limit:
        return
    at = used >= limit
    yield Finding(
        "service.connections_near_limit",
        Severity.WARNING,
        f"{name} on {where} {'is at' if at else 'is near'} its connection limit: "
        f"{used} of {limit} in use",
        (f"{what}: {used} / {limit} ({used * 100 // limit} %)", *lines),
        (
            look,
            NextStep(
                "Close idle clients, fix a client that leaks connections, use a pool, or raise the limit"
            ),
        ),
    )


def _redis_memory(
    t: Target, data: ServiceData, where: str, lines: tuple[str, ...]
) -> Iterator[Finding]:
    used, limit = data.number("used_memory"), data.number("maxmemory")
    policy = data.field("maxmemory_policy") or "noeviction"
    if used < 0 or limit <= 0 or used < 0.95 * limit:
        return
    refuses = policy == "noeviction"
    yield Finding(
        "service.memory_full",
        Severity.ERROR if refuses else Severity.WARNING,
        f"Redis on {where} is at its maxmemory: {_mib(used)} of {_mib(limit)}"
        + (
            " — writes fail with -OOM (maxmemory-policy noeviction)"
            if refuses
            else f" — keys are being evicted ({policy})"
        ),
        (f"used_memory / maxmemory: {used} / {limit} bytes ({used * 100 // limit} %)", *lines),
        (
            NextStep("See what uses the memory", redis_cli(t, "--bigkeys")),
            NextStep(
                "Raise maxmemory (CONFIG SET maxmemory), set TTLs, or choose an eviction policy (allkeys-lru) if this is a cache"
            ),
        ),
    )


def _said(data: ServiceData) -> tuple[str, ...]:
    return tuple(f"{k}: {v}" for k, v in data.info)


def _redis_persistence(
    t: Target, data: ServiceData, where: str, lines: tuple[str, ...], misconf: bool = False
) -> Iterator[Finding]:
    failed = [
        f"{k}: err"
        for k in ("rdb_last_bgsave_status", "aof_last_write_status", "aof_last_bgrewrite_status")
        if data.field(k) == "err"
    ]
    if misconf and not failed:
        failed = ["MISCONF"]
    if not failed:
        return
    yield Finding(
        "service.persistence_failed",
        Severity.ERROR,
        f"Redis on {where} cannot save to disk ({', '.join(failed)}): writes are refused "
        "with -MISCONF while stop-writes-on-bgsave-error is on",
        lines,
        (
            NextStep(
                "Read why the save failed (disk full, permissions)",
                redis_cli(t, "INFO", "persistence"),
            ),
            NextStep(
                "Check the space where Redis writes its dump", redis_cli(t, "CONFIG", "GET", "dir")
            ),
        ),
    )


def _replica(
    t: Target, data: ServiceData, name: str, where: str, lines: tuple[str, ...]
) -> Iterator[Finding]:
    if data.service == "redis" and data.field("role") in ("slave", "replica"):
        master = f"{data.field('master_host')}:{data.field('master_port')}"
        link = data.field("master_link_status") or "unknown"
        yield Finding(
            "service.read_only",
            Severity.WARNING,
            f"Redis on {where} is a read-only replica of {master} (link {link}): writes get -READONLY",
            lines,
            (
                NextStep("Point writers at the master (or use Sentinel/Cluster discovery)"),
                NextStep("See the replication state", redis_cli(t, "INFO", "replication")),
            ),
        )
    elif data.service == "postgres" and data.field("in_recovery") == "t":
        yield Finding(
            "service.read_only",
            Severity.WARNING,
            f"PostgreSQL on {where} is a standby in recovery: it serves reads only",
            lines,
            (NextStep("Point writers at the primary"),),
        )


RULES = (service_findings, service_limits)
