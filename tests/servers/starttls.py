"""Servers that upgrade to TLS in-band: SMTP STARTTLS, and a PostgreSQL that says 'N'."""

from __future__ import annotations

import asyncio
import ssl

from tests.servers.base import Handler


def smtp(ctx: ssl.SSLContext, offer_starttls: bool = True) -> Handler:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 mail.lab ESMTP lab\r\n")
        await writer.drain()
        line = await asyncio.wait_for(reader.readline(), 5)
        if not line.upper().startswith(b"EHLO"):
            return
        ext = b"250-mail.lab\r\n250-PIPELINING\r\n" + (
            b"250 STARTTLS\r\n" if offer_starttls else b"250 8BITMIME\r\n"
        )
        writer.write(ext)
        await writer.drain()
        line = await asyncio.wait_for(reader.readline(), 5)
        if line.strip().upper() != b"STARTTLS":
            return
        writer.write(b"220 2.0.0 Ready to start TLS\r\n")
        await writer.drain()
        await writer.start_tls(ctx)
        await asyncio.wait_for(reader.read(1024), 5)

    return handle


async def postgres_without_ssl(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await asyncio.wait_for(reader.readexactly(8), 5)
    writer.write(b"N")
    await writer.drain()
    await asyncio.wait_for(reader.read(1024), 5)
