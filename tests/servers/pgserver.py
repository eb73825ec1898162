"""A PostgreSQL stand-in speaking the wire protocol: SSLRequest (answered N), the
StartupMessage, then either an ErrorResponse (any SQLSTATE and message) or password
authentication (cleartext or MD5) and one simple query answered with a fixed row."""

from __future__ import annotations

import asyncio
import hashlib
import struct
from collections.abc import Sequence
from typing import Any


def _msg(kind: bytes, body: bytes) -> bytes:
    return kind + struct.pack("!I", len(body) + 4) + body


def error_response(code: str, message: str, severity: str = "FATAL") -> bytes:
    fields = b"S" + severity.encode() + b"\0C" + code.encode() + b"\0M" + message.encode() + b"\0\0"
    return _msg(b"E", fields)


async def _read_startup(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> dict[str, str]:
    while True:
        length = struct.unpack("!I", await reader.readexactly(4))[0]
        body = await reader.readexactly(length - 4)
        if struct.unpack("!I", body[:4])[0] == 80877103:  # SSLRequest
            writer.write(b"N")
            await writer.drain()
            continue
        parts = body[4:].split(b"\0")
        return {
            parts[i].decode(): parts[i + 1].decode()
            for i in range(0, len(parts) - 1, 2)
            if parts[i]
        }


def pg_error(code: str, message: str) -> Any:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_startup(reader, writer)
        writer.write(error_response(code, message))
        await writer.drain()

    return handle


def pg_login(
    password: str, row: Sequence[str], method: str = "md5", database: str = "appdb"
) -> Any:
    """Password auth (md5 or cleartext); the limits query gets *row*."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        params = await _read_startup(reader, writer)
        user = params.get("user", "")
        salt = b"\x01\x02\x03\x04"
        if method == "md5":
            writer.write(_msg(b"R", struct.pack("!I", 5) + salt))
        else:
            writer.write(_msg(b"R", struct.pack("!I", 3)))
        await writer.drain()
        kind = await reader.readexactly(1)
        length = struct.unpack("!I", await reader.readexactly(4))[0]
        given = (await reader.readexactly(length - 4)).rstrip(b"\0")
        inner = hashlib.md5((password + user).encode()).hexdigest()
        want = (
            b"md5" + hashlib.md5(inner.encode() + salt).hexdigest().encode()
            if method == "md5"
            else password.encode()
        )
        if kind != b"p" or given != want:
            writer.write(
                error_response("28P01", f'password authentication failed for user "{user}"')
            )
            await writer.drain()
            return
        if params.get("database") != database:
            writer.write(
                error_response("3D000", f'database "{params.get("database")}" does not exist')
            )
            await writer.drain()
            return
        writer.write(_msg(b"R", struct.pack("!I", 0)))
        writer.write(_msg(b"S", b"server_version\x0016.2\x00"))
        writer.write(_msg(b"Z", b"I"))
        await writer.drain()
        kind = await reader.readexactly(1)
        length = struct.unpack("!I", await reader.readexactly(4))[0]
        await reader.readexactly(length - 4)
        if kind != b"Q":
            return
        cols = b"".join(struct.pack("!i", len(v)) + v.encode() for v in row)
        writer.write(_msg(b"T", struct.pack("!H", 0)))
        writer.write(_msg(b"D", struct.pack("!H", len(row)) + cols))
        writer.write(_msg(b"C", b"SELECT 1\x00"))
        writer.write(_msg(b"Z", b"I"))
        await writer.drain()
        await asyncio.wait_for(reader.read(5), 5)  # Terminate

    return handle


def pg_pool(max_connections: int) -> Any:
    """Trust authentication and a connection limit as PostgreSQL keeps it: a client
    takes one of *max_connections* slots when its StartupMessage arrives (a bare TCP
    connection takes none) and keeps it until it terminates; beyond the limit the
    server answers 53300 "sorry, too many clients already".  Queries get one row, 1."""
    active: set[asyncio.StreamWriter] = set()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_startup(reader, writer)
        if len(active) >= max_connections:
            writer.write(error_response("53300", "sorry, too many clients already"))
            await writer.drain()
            return
        active.add(writer)
        try:
            writer.write(_msg(b"R", struct.pack("!I", 0)) + _msg(b"Z", b"I"))
            await writer.drain()
            while True:
                kind = await reader.readexactly(1)
                length = struct.unpack("!I", await reader.readexactly(4))[0]
                await reader.readexactly(length - 4)
                if kind != b"Q":
                    return  # Terminate, or anything this stand-in does not speak
                writer.write(
                    _msg(b"T", struct.pack("!H", 0))
                    + _msg(b"D", struct.pack("!Hi", 1, 1) + b"1")
                    + _msg(b"C", b"SELECT 1\x00")
                    + _msg(b"Z", b"I")
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        finally:
            active.discard(writer)

    return handle
