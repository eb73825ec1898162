"""One PostgreSQL client's hello, for the connection sampler and the burst.

A TCP connect to PostgreSQL takes no connection slot: the server gives one to a
client only when its StartupMessage arrives.  So a pool at its limit ("sorry, too
many clients already", SQLSTATE 53300) is seen only by a client that speaks: the
SSLRequest (TLS when offered, as libpq's ``prefer``), the StartupMessage, a login
with the URL's credentials when it carries them, and ``SELECT 1``.  Without a
password, a server that asks for one has given this client a slot: that is an
answer (the service probe reports the authentication itself).  When only the port
number (5432) suggested PostgreSQL, a port that does not answer the SSLRequest like
PostgreSQL is a plain TCP service, not a failing one.
"""

from __future__ import annotations

import asyncio
import ssl
import struct

from probes.core.target import Target
from probes.proto.pgwire import PgError, authenticate, error_fields, query_row, terminate
from probes.proto.service import pg_startup

SSL_REQUEST = struct.pack("!II", 8, 80877103)
NOT_POSTGRES = "connected; the port does not speak PostgreSQL (only its number suggested it)"
# SQLSTATE classes that say the server gave this client a slot and judged it: an
# authentication failure (28) or an unknown database (3D) is the service probe's story.
ADMITTED = ("28", "3D")


def guessed(target: Target) -> bool:
    """PostgreSQL only because of the port number, not the URL's scheme."""
    return target.scheme not in ("postgres", "postgresql")


async def pg_hello(
    target: Target, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> tuple[bool, str]:
    """(admitted, detail) for one client on an open connection; *detail* is the
    server's error (``53300: sorry, too many clients already``) when it turned the
    client away.  Leaves the connection open: the caller holds or closes it."""
    from probes.proto.tls import pg_sslmode

    if pg_sslmode(target) != "disable":
        writer.write(SSL_REQUEST)
        await writer.drain()
        try:
            answer = await reader.readexactly(1)
        except asyncio.IncompleteReadError:
            if guessed(target):
                return True, NOT_POSTGRES
            raise
        if answer not in (b"S", b"N") and guessed(target):
            return True, NOT_POSTGRES
        if answer == b"S":
            plain = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            plain.check_hostname = False
            plain.verify_mode = ssl.CERT_NONE  # the tls probe judges the certificate
            await writer.start_tls(plain, server_hostname=target.sni)
        elif answer != b"N":
            return False, "not PostgreSQL: it does not answer the SSLRequest"
    kind, body = await pg_startup(target, reader, writer)
    if kind == b"E":
        fields = error_fields(body)
        code = fields.get("C", "")
        return code.startswith(ADMITTED), f"{code}: {fields.get('M', '')}"
    if kind != b"R" or len(body) < 4:
        return False, "not PostgreSQL: an unexpected answer to the StartupMessage"
    code = struct.unpack("!I", body[:4])[0]
    if code != 0 and not target.password:
        return True, "asks for authentication"
    try:
        if code != 0:
            await authenticate(reader, writer, code, body[4:], target.username, target.password)
        await query_row(reader, writer, "SELECT 1")
    except PgError as exc:
        state = exc.fields.get("C", "")
        return state.startswith(ADMITTED), f"{state}: {exc.fields.get('M', '')}"
    except ValueError as exc:
        return True, f"login not attempted: {exc}"
    return True, "SELECT 1 answered"


def goodbye(writer: asyncio.StreamWriter) -> None:
    """Terminate the session politely before closing (a clean end in the server log)."""
    if not writer.is_closing():
        writer.write(terminate())
