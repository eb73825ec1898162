"""Commands that reach this check's service: ``redis-cli`` and ``psql`` with the
host, port and user of the target, quoted for a shell.

Pasted as shown they ask the server netmedic checked, never the local default one.
Passwords are never part of a command: redis-cli asks for it (``--askpass``), psql
reads it from its prompt or ``~/.pgpass``.
"""

from __future__ import annotations

from probes.core.target import Target
from probes.diagnosis.evidence import q


def redis_cli(target: Target, *args: str) -> str:
    """``redis-cli -h HOST -p PORT [--tls] [--user U --askpass] ARGS``."""
    words = ["redis-cli", "-h", q(target.host), "-p", str(target.port)]
    if target.scheme == "rediss":
        words.append("--tls")
    if target.username:
        words += ["--user", q(target.username)]
    if target.password:
        words.append("--askpass")
    return " ".join([*words, *(q(a) for a in args)])


def conninfo_value(value: object) -> str:
    """A libpq connection-string value: a space or quote in it cannot add a keyword."""
    text = str(value)
    if text and all(c.isalnum() or c in "._-:" for c in text):
        return text
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def pg_database(target: Target) -> str:
    return target.path.lstrip("/").split("?")[0] or "postgres"


def conninfo(target: Target, dbname: str = "", sslmode: str = "") -> str:
    """libpq's ``host=... port=... dbname=... user=...`` for *target*."""
    pairs: list[tuple[str, object]] = [
        ("host", target.host),
        ("port", target.port),
        ("dbname", dbname or pg_database(target)),
        ("user", target.username or "postgres"),
    ]
    if sslmode:
        pairs.append(("sslmode", sslmode))
    return " ".join(f"{key}={conninfo_value(value)}" for key, value in pairs)


def psql(target: Target, sql: str = "", dbname: str = "", sslmode: str = "", *flags: str) -> str:
    """``psql 'host=... port=... dbname=... user=...' [-c SQL] [FLAGS]``."""
    words = ["psql", q(conninfo(target, dbname, sslmode))]
    if sql:
        words += ["-c", q(sql)]
    return " ".join([*words, *(q(f) for f in flags)])
