"""Forward proxies on loopback: a working one (CONNECT tunnels and absolute-URI GET),
one that wants auth, and one that intercepts TLS with its own CA.

``names`` maps host names only the proxy can resolve to loopback addresses (the
"proxy resolves the name" case); any other name is refused as unresolvable.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ssl
from urllib.parse import urlsplit

from tests.servers.base import Handler, read_head, response
from tests.servers.httpserver import parse_head


def _split_authority(authority: str) -> tuple[str, int]:
    host, _, port = authority.rpartition(":")
    return host.strip("[]"), int(port)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError, asyncio.IncompleteReadError):
        while chunk := await reader.read(65536):
            writer.write(chunk)
            await writer.drain()
    with contextlib.suppress(OSError):
        writer.close()


def _upstream_error(code: int, reason: str, why: str) -> bytes:
    return response(
        code, reason, {"Proxy-Status": f"lab-proxy; error={why}", "Via": "1.1 lab-proxy"}
    )


def forward_proxy(
    names: dict[str, str] | None = None, auth: tuple[str, str] | None = None
) -> Handler:
    """A working forward proxy: CONNECT tunnels, absolute-URI GET relayed."""
    names = names or {}
    expected = "Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode() if auth else ""

    def resolve(host: str) -> str | None:
        if host in names:
            return names[host]
        return host if host.replace(".", "").isdigit() or ":" in host else None

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await read_head(reader)
        method, target, headers = parse_head(head)
        if expected and headers.get("proxy-authorization") != expected:
            writer.write(
                response(
                    407,
                    "Proxy Authentication Required",
                    {"Proxy-Authenticate": 'Basic realm="lab"'},
                )
            )
            await writer.drain()
            return
        if method == "CONNECT":
            host, port = _split_authority(target)
        else:
            parts = urlsplit(target)
            host, port = parts.hostname or "", parts.port or 80
        address = resolve(host)
        if address is None:
            writer.write(_upstream_error(502, "Bad Gateway", "dns_error"))
            await writer.drain()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(address, port)
        except OSError:
            writer.write(_upstream_error(502, "Bad Gateway", "connection_refused"))
            await writer.drain()
            return
        if method == "CONNECT":
            writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            await writer.drain()
        else:
            path = urlsplit(target).path or "/"
            rest = head.split(b"\r\n", 1)[1]
            up_writer.write(f"{method} {path} HTTP/1.1\r\n".encode() + rest)
            await up_writer.drain()
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))

    return handle


def intercepting_proxy(ctx: ssl.SSLContext) -> Handler:
    """Accepts CONNECT to anything and terminates TLS itself with *ctx* (its own CA)."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        method, _, _ = parse_head(await read_head(reader))
        if method != "CONNECT":
            writer.write(response(405, "Method Not Allowed"))
            await writer.drain()
            return
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        await writer.drain()
        await writer.start_tls(ctx)
        await read_head(reader)
        writer.write(response(200, "OK", {"Server": "inspector"}, b"inspected\n"))
        await writer.drain()

    return handle
