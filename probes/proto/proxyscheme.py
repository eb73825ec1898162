"""``HTTPS_PROXY=https://host:port`` where the proxy speaks plain HTTP.

The scheme of a proxy URL is how the client talks to the proxy, not to the site: an
``https://`` proxy URL makes the client open TLS to the proxy first.  A plain HTTP
proxy (squid, tinyproxy on 3128) waits for a request line and the client waits for
a ServerHello: both wait until a timeout, and nothing names the cause.  One short
plaintext question settles it: an answer in HTTP means the URL should say http://.
"""

from __future__ import annotations

import asyncio
import time
from urllib.parse import urlsplit

from probes.core.sanitize import clean_bytes

ASK_S = 1.0  # a proxy answers a malformed request at once


async def plain_proxy_detail(proxy_url: str, variable: str, shown: str, deadline: float) -> str:
    """For an https:// proxy URL: why it is wrong when the proxy answers plain HTTP,
    else "" (it speaks TLS, or stays silent: the normal path decides)."""
    parts = urlsplit(proxy_url)
    if parts.scheme != "https" or not parts.hostname:
        return ""
    port = parts.port or 443
    wait = max(0.05, min(ASK_S, deadline - time.monotonic()))
    try:
        async with asyncio.timeout(wait):
            reader, writer = await asyncio.open_connection(parts.hostname, port)
            try:
                writer.write(b"OPTIONS * HTTP/1.0\r\nUser-Agent: netmedic\r\n\r\n")
                await writer.drain()
                answer = await reader.readline()
            finally:
                writer.close()
    except (OSError, TimeoutError):
        return ""
    if not answer.startswith(b"HTTP/"):
        return ""
    line = clean_bytes(answer.strip(), 80)
    return (
        f"{variable} says https:// but the proxy {shown} speaks plain HTTP (it answers "
        f"{line!r}): clients open TLS to it and wait for a handshake it never starts; "
        f"write http:// in {variable}"
    )
