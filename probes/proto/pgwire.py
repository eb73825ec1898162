"""PostgreSQL wire messages for a session with the credentials a person gave:
password authentication (cleartext, MD5, SCRAM-SHA-256) and one simple query.

Only used when the URL carries a password: then netmedic logs in as that user
and reads what the server says about its limits (``SHOW ssl``, max_connections,
the connections in use, recovery).  The password never leaves this module.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import os
import struct

from probes.core.sanitize import clean_bytes


class PgError(Exception):
    """The server sent an ErrorResponse: ``fields`` holds its (cleaned) fields."""

    def __init__(self, fields: dict[str, str]) -> None:
        super().__init__(f"{fields.get('C', '')}: {fields.get('M', '')}")
        self.fields = fields


def error_fields(body: bytes) -> dict[str, str]:
    fields = {}
    for part in body.split(b"\0"):
        if part:
            fields[chr(part[0])] = clean_bytes(part[1:], 200)
    return fields


async def read_message(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    kind = await reader.readexactly(1)
    length = struct.unpack("!I", await reader.readexactly(4))[0]
    return kind, await reader.readexactly(min(max(length - 4, 0), 1 << 20))


def _message(kind: bytes, body: bytes) -> bytes:
    return kind + struct.pack("!I", len(body) + 4) + body


async def authenticate(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    code: int,
    body: bytes,
    user: str,
    password: str,
) -> None:
    """Answer the server's authentication request *code* (with its *body*) until
    AuthenticationOk; PgError when the server refuses, ValueError for a method
    netmedic does not speak."""
    if code == 0:  # trust: the first answer was AuthenticationOk already
        return
    if code == 3:
        writer.write(_message(b"p", password.encode() + b"\0"))
    elif code == 5:
        inner = hashlib.md5((password + user).encode()).hexdigest()
        outer = hashlib.md5(inner.encode() + body[:4]).hexdigest()
        writer.write(_message(b"p", b"md5" + outer.encode() + b"\0"))
    elif code == 10:
        await _scram(reader, writer, body, password)
    else:
        raise ValueError(f"authentication method {code} is not supported by netmedic")
    await writer.drain()
    while True:
        kind, answer = await read_message(reader)
        if kind == b"E":
            raise PgError(error_fields(answer))
        if kind == b"R" and struct.unpack("!I", answer[:4])[0] == 0:
            return


async def _scram(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, mechanisms: bytes, password: str
) -> None:
    if b"SCRAM-SHA-256" not in mechanisms.split(b"\0"):
        raise ValueError("the server offers no SASL mechanism netmedic speaks (SCRAM-SHA-256)")
    nonce = base64.b64encode(os.urandom(18)).decode()
    bare = f"n=,r={nonce}"
    first = ("n,," + bare).encode()
    writer.write(_message(b"p", b"SCRAM-SHA-256\0" + struct.pack("!I", len(first)) + first))
    await writer.drain()
    kind, answer = await read_message(reader)
    if kind == b"E":
        raise PgError(error_fields(answer))
    server_first = answer[4:].decode()
    attrs = dict(part.split("=", 1) for part in server_first.split(","))
    if not attrs.get("r", "").startswith(nonce):
        raise ValueError("the server's SCRAM nonce does not extend ours")
    salted = hashlib.pbkdf2_hmac(
        "sha256", password.encode(), base64.b64decode(attrs["s"]), int(attrs["i"])
    )
    client_key = hmac.digest(salted, b"Client Key", "sha256")
    stored = hashlib.sha256(client_key).digest()
    without_proof = f"c=biws,r={attrs['r']}"
    auth_message = f"{bare},{server_first},{without_proof}".encode()
    signature = hmac.digest(stored, auth_message, "sha256")
    proof = bytes(a ^ b for a, b in zip(client_key, signature, strict=True))
    final = f"{without_proof},p={base64.b64encode(proof).decode()}"
    writer.write(_message(b"p", final.encode()))


async def query_row(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, sql: str
) -> list[str]:
    """Wait for ReadyForQuery, run *sql*, return its first row as text (PgError on error)."""
    while True:
        kind, body = await read_message(reader)
        if kind == b"E":
            raise PgError(error_fields(body))
        if kind == b"Z":
            break
    writer.write(_message(b"Q", sql.encode() + b"\0"))
    await writer.drain()
    row: list[str] = []
    error: PgError | None = None
    while True:
        kind, body = await read_message(reader)
        if kind == b"D" and not row:
            count = struct.unpack("!H", body[:2])[0]
            at = 2
            for _ in range(count):
                size = struct.unpack("!i", body[at : at + 4])[0]
                at += 4
                if size < 0:
                    row.append("")
                    continue
                row.append(clean_bytes(body[at : at + size], 80))
                at += size
        elif kind == b"E":
            error = PgError(error_fields(body))
        elif kind == b"Z":
            break
    if error is not None:
        raise error
    return row


def terminate() -> bytes:
    return b"X\x00\x00\x00\x04"
