"""Service-protocol probe: speak just enough Redis, PostgreSQL or SSH to know it answers.

SSH (:mod:`probes.proto.sshprobe`): banner, host key, the authentication methods
offered; read-only, nothing logs in.

Redis: ``AUTH`` (when the URL carries credentials) and ``PING``; NOAUTH and
WRONGPASS become auth findings.  PostgreSQL: an SSLRequest (does the server
offer TLS?) and a StartupMessage (does it speak the protocol, which
authentication does it ask for, or which error does it send: its SQLSTATE and
message for every startup failure).  Only when the URL carries a password does
netmedic log in (cleartext, MD5 or SCRAM-SHA-256, :mod:`probes.proto.pgwire`) and read
the server's limits: ``ssl``, max_connections against the connections in use,
recovery.  Redis: after PING, what ``INFO`` allows (clients, memory, role,
persistence).
"""

from __future__ import annotations

import asyncio
import struct
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from typing import Any

from probes.core.context import ProbeContext
from probes.core.model import ProbeError, ProbeResult, Status
from probes.core.sanitize import clean_bytes, clean_text
from probes.wire.banner import identify
from probes.wire.connect import stream_source

SERVICES = {
    "redis": "redis",
    "rediss": "redis",
    "postgres": "postgres",
    "postgresql": "postgres",
    "ssh": "ssh",
}
PORTS = {6379: "redis", 5432: "postgres", 22: "ssh"}
# What a banner named (probes.wire.banner) -> the service that speaks it.
HEARD = {"Redis": "redis", "PostgreSQL": "postgres", "SSH": "ssh"}
NAMES = {"redis": "Redis", "postgres": "PostgreSQL", "ssh": "SSH"}
STANDARD_PORT = {"redis": 6379, "postgres": 5432, "ssh": 22}
NO_DATABASE = "no_database"
OK, AUTH_REQUIRED, AUTH_FAILED, WRONG_PROTOCOL, TOO_MANY, UNAVAILABLE, FAILED, TIMEOUT = (
    "ok",
    "auth_required",
    "auth_failed",
    "wrong_protocol",
    "too_many_connections",
    "unavailable",
    "failed",
    "timeout",
)
_PG_AUTH = {
    0: "none (trust)",
    2: "Kerberos",
    3: "cleartext password",
    5: "MD5 password",
    7: "GSSAPI",
    9: "SSPI",
    10: "SASL",
}


@dataclass(frozen=True, slots=True)
class ServiceData:
    service: str  # redis | postgres
    address: str
    port: int
    state: str  # ok | auth_required | auth_failed | wrong_protocol | too_many_connections | unavailable | failed | timeout
    detail: str = ""
    reply: str = ""  # the server's answer, sanitised
    protocol_seen: str = ""  # for wrong_protocol: what the banner names
    tls_offered: str = ""  # postgres: "yes" | "no" | "" (unknown)
    auth_method: str = ""  # postgres: what the server asks for
    sqlstate: str = ""
    credentials_sent: bool = False
    sslmode: str = ""  # postgres: the URL's sslmode ("" = not given)
    sources: tuple[str, ...] = ()  # the local address:port of its connection
    # What the service says about itself when asked (Redis INFO; PostgreSQL settings
    # with credentials): (name, value), sanitised.
    info: tuple[tuple[str, str], ...] = ()
    # What the pasted error reports (probes.triage.shaping), carried for the rules.
    app_reports: tuple[str, ...] = ()

    @property
    def own_sources(self) -> tuple[str, ...]:
        return self.sources

    def field(self, name: str) -> str:
        return next((v for k, v in self.info if k == name), "")

    def number(self, name: str) -> int:
        value = self.field(name)
        return int(value) if value.isdigit() else -1


def which(ctx: ProbeContext) -> str | None:
    t = ctx.target
    if t.scheme in SERVICES:
        return SERVICES[t.scheme]
    if t.scheme == "tcp":
        return PORTS.get(t.port) or HEARD.get(ctx.heard_protocol)
    return None


async def probe_service(ctx: ProbeContext) -> AsyncIterator[ProbeResult]:
    started = time.monotonic()
    service = which(ctx)
    if service is None:
        yield ProbeResult(
            "service",
            Status.SKIPPED,
            0.0,
            "no service protocol known for this target (redis://, postgres://, ssh://)",
        )
        return
    resolution = await ctx.resolution()
    if not resolution.addresses:
        yield ProbeResult("service", Status.SKIPPED, time.monotonic() - started, "no address")
        return
    address = resolution.addresses[0]
    deadline = started + ctx.config.timeout
    opened: list[str] = []  # the connection's local end, known even when it fails later
    try:
        async with asyncio.timeout(max(0.1, deadline - time.monotonic())):
            if service == "redis":
                data = await _redis(ctx, address, opened)
            elif service == "ssh":
                data = await _ssh(ctx, address)
            else:
                data = await _postgres(ctx, address, opened)
    except TimeoutError:
        data = ServiceData(
            service, address, ctx.target.port, TIMEOUT, "no answer before the deadline"
        )
    except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
        data = ServiceData(
            service,
            address,
            ctx.target.port,
            FAILED,
            clean_text(f"{type(exc).__name__}: {exc}", 200),
        )
    data = replace(data, sources=tuple(s for s in opened if s))
    if ctx.config.app_reports:
        data = replace(data, app_reports=ctx.config.app_reports)
    elapsed = time.monotonic() - started
    summary = f"{service} {data.state}: {data.detail}"
    if ctx.target.scheme == "tcp" and data.state == WRONG_PROTOCOL:
        # The service was only guessed from the port number: another protocol is no fault.
        yield ProbeResult(
            "service", Status.SKIPPED, elapsed, f"port {ctx.target.port} is not {service}"
        )
        return
    if data.state == OK:
        yield ProbeResult("service", Status.OK, elapsed, summary, data)
    else:
        err = ProbeError(data.state.upper(), data.detail, elapsed_s=elapsed)
        yield ProbeResult("service", Status.FAILED, elapsed, summary, data, err)


async def pg_startup(
    t: Any, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> tuple[bytes, bytes]:
    """Send the StartupMessage; (message type, body) of the first answer."""
    user = t.username or "netmedic"
    database = t.path.lstrip("/").split("?")[0] or "postgres"
    params = (
        b"".join(
            k.encode() + b"\0" + v.encode() + b"\0"
            for k, v in (("user", user), ("database", database), ("application_name", "netmedic"))
        )
        + b"\0"
    )
    writer.write(struct.pack("!II", 8 + len(params), 196608) + params)
    await writer.drain()
    kind = await reader.readexactly(1)
    length = struct.unpack("!I", await reader.readexactly(4))[0]
    body = await reader.readexactly(min(max(length - 4, 0), 8192))
    return kind, body


# With credentials: what the server says about its limits (SHOW ssl and friends).
PG_LIMITS_SQL = (
    "SELECT current_setting('ssl'), current_setting('max_connections'), "
    "current_setting('superuser_reserved_connections'), "
    "(SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'), "
    "pg_is_in_recovery(), current_setting('server_version')"
)
PG_LIMIT_FIELDS = (
    "ssl",
    "max_connections",
    "superuser_reserved_connections",
    "connections",
    "in_recovery",
    "server_version",
)


async def _pg_session(
    t: Any, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, body: bytes
) -> tuple[tuple[str, str], ...] | dict[str, str]:
    """Log in with the URL's credentials and read the limits: the info pairs, or the
    server's error fields when it refuses."""
    from probes.proto.pgwire import PgError, authenticate, query_row

    code = struct.unpack("!I", body[:4])[0]
    try:
        await authenticate(reader, writer, code, body[4:], t.username, t.password)
        row = await query_row(reader, writer, PG_LIMITS_SQL)
    except PgError as exc:
        return exc.fields
    except ValueError as exc:
        return (("login", clean_text(f"not attempted: {exc}", 120)),)
    return tuple(zip(PG_LIMIT_FIELDS, row, strict=False))


def _resp(*parts: str) -> bytes:
    out = f"*{len(parts)}\r\n".encode()
    for p in parts:
        b = p.encode()
        out += b"$%d\r\n%s\r\n" % (len(b), b)
    return out


async def _ssh(ctx: ProbeContext, address: str) -> ServiceData:
    """The server's offer (banner, host key, login methods): read-only, see sshprobe."""
    from probes.proto.sshprobe import look

    seen = await look(ctx, address)
    port = ctx.target.port
    if seen.hello is not None:
        return ServiceData(
            "ssh", address, port, OK, seen.detail, reply=seen.hello.banner, info=seen.info
        )
    if seen.not_ssh:
        reply = clean_bytes(seen.first, 120)
        return ServiceData(
            "ssh", address, port, WRONG_PROTOCOL, seen.error, reply, seen.protocol_seen
        )
    return ServiceData("ssh", address, port, FAILED, seen.error)


async def _redis(ctx: ProbeContext, address: str, opened: list[str]) -> ServiceData:
    t = ctx.target
    ssl_ctx = None
    if t.scheme == "rediss":
        from probes.proto.tls import verify_context

        ssl_ctx = verify_context(ctx.config.ca_file)
    reader, writer = await asyncio.open_connection(
        address, t.port, ssl=ssl_ctx, server_hostname=(t.sni or t.host) if ssl_ctx else None
    )
    opened.append(stream_source(writer))
    creds = bool(t.password)
    base: dict[str, Any] = {
        "service": "redis",
        "address": address,
        "port": t.port,
        "credentials_sent": creds,
    }
    try:
        # Redis speaks first only to refuse ("-ERR max number of clients reached"):
        # listen briefly before sending; the same read then takes the first reply.
        pending = asyncio.ensure_future(reader.readline())
        done, _ = await asyncio.wait({pending}, timeout=0.1)
        if done:
            return _redis_answer(base, pending.result(), b"")
        try:
            if creds:
                args = ("AUTH", t.username, t.password) if t.username else ("AUTH", t.password)
                writer.write(_resp(*args))
            writer.write(_resp("PING"))
            await writer.drain()
            first = await pending
        finally:
            pending.cancel()
        auth_reply = b""
        if creds and first:
            auth_reply, first = first, await reader.readline()
        answer = _redis_answer(base, first, auth_reply)
        if answer.state in (OK, UNAVAILABLE):  # INFO still answers and says why
            answer = replace(answer, info=await _redis_info(reader, writer))
    finally:
        writer.close()
    return answer


# INFO fields that say a limit is reached (probes.diagnosis.service_rules reads them).
REDIS_INFO_FIELDS = (
    "redis_version",
    "role",
    "master_host",
    "master_port",
    "master_link_status",
    "connected_clients",
    "maxclients",
    "blocked_clients",
    "rejected_connections",
    "used_memory",
    "maxmemory",
    "maxmemory_policy",
    "loading",
    "rdb_last_bgsave_status",
    "aof_enabled",
    "aof_last_write_status",
    "aof_last_bgrewrite_status",
)


async def _redis_info(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> tuple[tuple[str, str], ...]:
    """What INFO allows: the fields of REDIS_INFO_FIELDS (empty when INFO is refused
    or renamed away)."""
    writer.write(_resp("INFO"))
    await writer.drain()
    head = await reader.readline()
    if not head.startswith(b"$") or not head[1:].strip().isdigit():
        return (("info_refused", clean_bytes(head.strip(), 120)),)
    size = int(head[1:].strip())
    body = await reader.readexactly(min(size + 2, 256 * 1024))
    fields: dict[str, str] = {}
    for line in body.decode("utf-8", "replace").splitlines():
        name, sep, value = line.partition(":")
        if sep and name in REDIS_INFO_FIELDS:
            fields[name] = clean_text(value.strip(), 80)
    return tuple((name, fields[name]) for name in REDIS_INFO_FIELDS if name in fields)


# Redis error replies that say the server cannot serve now (prefix → why).
_REDIS_UNAVAILABLE = (
    (b"-LOADING", "Redis is loading its dataset into memory"),
    (b"-READONLY", "this Redis is a read-only replica"),
    (b"-MISCONF", "Redis cannot save to disk and refuses writes (stop-writes-on-bgsave-error)"),
    (b"-OOM", "Redis is at its maxmemory limit"),
    (b"-MASTERDOWN", "the replica has lost its master"),
    (b"-BUSY", "Redis is busy running a script"),
)


def _redis_answer(base: dict[str, Any], first: bytes, auth_reply: bytes) -> ServiceData:
    """Classify Redis's answers (the AUTH reply first, then PING's); the server's words kept."""
    shown = clean_bytes((auth_reply + b" " + first).strip() if auth_reply else first.strip(), 160)
    for line in (auth_reply, first):
        upper = line.upper()
        if upper.startswith(b"-ERR MAX NUMBER OF CLIENTS"):
            return ServiceData(
                **base,
                state=TOO_MANY,
                detail="Redis refuses new clients: it is at its maxclients limit",
                reply=shown,
            )
        if upper.startswith(b"-NOAUTH"):
            return ServiceData(
                **base, state=AUTH_REQUIRED, detail="the server requires AUTH (NOAUTH)", reply=shown
            )
        if upper.startswith(b"-WRONGPASS") or upper.startswith(b"-ERR INVALID"):
            return ServiceData(
                **base, state=AUTH_FAILED, detail="AUTH was rejected (WRONGPASS)", reply=shown
            )
        for prefix, why in _REDIS_UNAVAILABLE:
            if upper.startswith(prefix):
                return ServiceData(**base, state=UNAVAILABLE, detail=why, reply=shown)
    if first.startswith(b"+PONG"):
        return ServiceData(**base, state=OK, detail="PING answered +PONG", reply=shown)
    if not first:
        return ServiceData(
            **base, state=FAILED, detail="the server closed the connection without answering PING"
        )
    if first[:1] in (b"-", b"+", b":", b"$", b"*"):
        return ServiceData(**base, state=FAILED, detail=f"PING answered {shown}", reply=shown)
    proto = identify(first) or ""
    return ServiceData(
        **base,
        state=WRONG_PROTOCOL,
        detail=f"the port does not answer like Redis{f'; it speaks {proto}' if proto else ''}",
        reply=shown,
        protocol_seen=proto,
    )


async def _postgres(ctx: ProbeContext, address: str, opened: list[str]) -> ServiceData:
    """SSLRequest (unless sslmode=disable), TLS when offered, then the StartupMessage,
    on one connection as libpq does."""
    import ssl

    from probes.proto.tls import pg_sslmode

    t = ctx.target
    mode = pg_sslmode(t)
    base: dict[str, Any] = {"service": "postgres", "address": address, "port": t.port}
    reader, writer = await asyncio.open_connection(address, t.port)
    opened.append(stream_source(writer))
    try:
        tls = ""
        if mode != "disable":
            writer.write(struct.pack("!II", 8, 80877103))
            await writer.drain()
            answer = await reader.read(64)
            if answer not in (b"S", b"N"):
                proto = identify(answer) or ""
                return ServiceData(
                    **base,
                    state=WRONG_PROTOCOL,
                    detail=f"the port does not answer like PostgreSQL{f'; it speaks {proto}' if proto else ''}",
                    reply=clean_bytes(answer, 120),
                    protocol_seen=proto,
                )
            tls = "yes" if answer == b"S" else "no"
            if answer == b"S":  # what libpq does: the startup goes inside TLS (not verified here)
                plain = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                plain.check_hostname = False
                plain.verify_mode = ssl.CERT_NONE
                await writer.start_tls(plain, server_hostname=t.sni)
        kind, body = await pg_startup(t, reader, writer)
        session: tuple[tuple[str, str], ...] | dict[str, str] = ()
        if kind == b"R" and len(body) >= 4 and t.username and (t.password or body[:4] == bytes(4)):
            session = await _pg_session(t, reader, writer, body)
        if isinstance(session, dict):  # the login was refused: classify that answer
            kind, fields = b"E", session
        else:
            fields = {}
        writer.write(b"X\x00\x00\x00\x04")
    finally:
        writer.close()
    user = t.username or "netmedic"
    base["sslmode"] = mode
    base["tls_offered"] = tls
    tls = tls or "not asked (sslmode=disable)"
    if kind == b"R" and len(body) >= 4:
        code = struct.unpack("!I", body[:4])[0]
        method = _PG_AUTH.get(code, f"method {code}")
        if code == 10:
            mechs = [m.decode("ascii", "replace") for m in body[4:].split(b"\0") if m]
            method = f"SASL ({', '.join(mechs)})"
        logged_in = ""
        if session:
            logged_in = (
                f"; logged in as {user}"
                if not dict(session).get("login")
                else f"; login {dict(session)['login']}"
            )
        return ServiceData(
            **base,
            state=OK,
            detail=f"PostgreSQL answers the startup for user {user}: authentication {method}; SSL {tls}{logged_in}",
            auth_method=clean_text(method, 80),
            credentials_sent=bool(t.password),
            info=session if isinstance(session, tuple) else (),
        )
    if kind == b"E":
        if not fields:
            from probes.proto.pgwire import error_fields

            fields = error_fields(body)
        base["credentials_sent"] = bool(t.password)
        code = fields.get("C", "")
        message = fields.get("M", "")
        state = FAILED
        if code.startswith("28") and not t.username:
            return ServiceData(
                **base,
                state=OK,
                detail=f"PostgreSQL answers; it rejected the placeholder user {user!r} "
                f"(put your user in the URL to test it): {code}: {message}",
                reply=message,
                sqlstate=code,
            )
        if code.startswith("28"):
            state = AUTH_FAILED
        elif code == "3D000":
            state = NO_DATABASE
        elif code == "53300":
            state = TOO_MANY
        elif code.startswith("57P"):  # starting up, shutting down, in recovery, admin shutdown
            state = UNAVAILABLE
        return ServiceData(
            **base,
            state=state,
            detail=f"SQLSTATE {code}: {message}",
            reply=message,
            sqlstate=code,
        )
    return ServiceData(
        **base,
        state=WRONG_PROTOCOL,
        detail="unexpected answer to the startup message",
        reply=clean_bytes(kind + body[:60], 120),
    )
