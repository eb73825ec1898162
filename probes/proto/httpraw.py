"""The raw bytes of an HTTP answer, for when the HTTP client library rejects it.

httpx (h11) says only "illegal header line" or "illegal status line".  To tell a
port that speaks another protocol from an HTTP server whose response breaks the
protocol, and to name the defect, the request is sent again by hand and the
answer read as bytes.
"""

from __future__ import annotations

import asyncio
import re
import ssl

from probes.core.sanitize import clean_bytes

HEAD_CAP = 16 * 1024
_STATUS_LINE = re.compile(rb"^HTTP/\d(?:\.\d)? \d{3}(?: [^\x00-\x08\x0a-\x1f\x7f]*)?$")
_TOKEN = re.compile(rb"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_CONTROL = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")


def starts_like_http(raw: bytes) -> bool:
    return raw[:5] == b"HTTP/"


async def raw_response(
    host: str, port: int, path: str, secure: bool, server_name: str, timeout: float
) -> bytes:
    """Send ``GET path`` by hand and return the first bytes of the answer ("" on failure).

    TLS is not verified here: the verifying client already ran; this only reads.
    """
    ctx = None
    if secure:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    request = (
        f"GET {path or '/'} HTTP/1.1\r\nHost: {server_name}\r\nUser-Agent: netmedic\r\n"
        "Accept: */*\r\nConnection: close\r\n\r\n"
    ).encode("ascii", "replace")
    buf = b""
    writer: asyncio.StreamWriter | None = None
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(
                host, port, ssl=ctx, server_hostname=server_name if ctx else None
            )
            writer.write(request)
            await writer.drain()
            while len(buf) < HEAD_CAP and b"\r\n\r\n" not in buf:
                chunk = await reader.read(4096)
                if not chunk:
                    break
                buf += chunk
    except (TimeoutError, OSError, ssl.SSLError, ValueError):
        pass
    finally:
        if writer is not None:
            writer.close()
    return buf


def response_defect(raw: bytes) -> str:
    """What breaks the protocol in a response head that starts like HTTP ("" if nothing found)."""
    head, sep, _ = raw.partition(b"\r\n\r\n")
    if not sep and b"\n\n" in raw:
        head = raw.partition(b"\n\n")[0]
    lines = head.split(b"\r\n")
    status = lines[0]
    if b"\n" in status and b"\r\n" not in head:
        return "lines end with a bare LF instead of CRLF"
    if not _STATUS_LINE.match(status):
        return f"malformed status line {clean_bytes(status, 80)!r}"
    lengths: set[bytes] = set()
    chunked = False
    for number, line in enumerate(lines[1:], start=1):
        shown = clean_bytes(line, 80)
        if b"\x00" in line:
            return f"header line {number} contains a NUL byte: {shown!r}"
        if b"\r" in line or b"\n" in line:
            return f"header line {number} contains a bare CR or LF: {shown!r}"
        if line[:1] in (b" ", b"\t"):
            return f"header line {number} is an obsolete folded continuation: {shown!r}"
        name, colon, value = line.partition(b":")
        if not colon:
            return f"header line {number} has no colon: {shown!r}"
        if not _TOKEN.match(name):
            return f"header line {number} has an invalid field name (whitespace or illegal characters): {shown!r}"
        if _CONTROL.search(value.replace(b"\t", b" ")):
            return f"header line {number} has control characters in its value: {shown!r}"
        lowered = name.lower()
        if lowered == b"content-length":
            lengths.update(v.strip() for v in value.split(b","))
        elif lowered == b"transfer-encoding":
            chunked = True
    if any(not v.isdigit() for v in lengths):
        return f"invalid Content-Length {b', '.join(sorted(lengths)).decode('latin-1')!r}"
    if len(lengths) > 1:
        return (
            f"conflicting Content-Length values {b', '.join(sorted(lengths)).decode('latin-1')!r}"
        )
    if lengths and chunked:
        return "both Transfer-Encoding and Content-Length (a request-smuggling risk proxies refuse)"
    if not sep:
        return "the response head never ends (no blank line after the headers)"
    return ""
