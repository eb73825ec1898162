"""A strict, size-capped HTTP/1.1 request reader and a one-shot response writer.

Enough HTTP for Prometheus and Alertmanager, and nothing a stranger can stretch:
the request line, the header block, the header count and the body are capped, the
head must arrive within a deadline, a body needs ``Content-Length`` (no chunked
uploads), and every connection closes after one response.  Bad input raises
:class:`HttpError`, whose status and one-line reason the server sends back.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

MAX_LINE = 8192  # request line and each header line, bytes
MAX_HEAD = 32768  # the whole header block
MAX_HEADERS = 64
MAX_BODY = 1 << 20  # an Alertmanager payload of a few hundred alerts fits
MAX_QUERY_FIELDS = 16
HEAD_TIMEOUT_S = 10.0
BODY_TIMEOUT_S = 10.0

REASONS = {
    200: "OK",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    411: "Length Required",
    413: "Content Too Large",
    414: "URI Too Long",
    415: "Unsupported Media Type",
    429: "Too Many Requests",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    501: "Not Implemented",
    503: "Service Unavailable",
    505: "HTTP Version Not Supported",
}


class HttpError(Exception):
    """A request the server refuses: its status and a one-line reason."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    path: str
    query: dict[str, str]  # the first value of each parameter
    headers: dict[str, str]  # lower-case names; a repeated header keeps its first value
    body: bytes = b""

    def header(self, name: str) -> str:
        return self.headers.get(name.lower(), "")


async def read_request(reader: asyncio.StreamReader, max_body: int = MAX_BODY) -> Request:
    """One request from *reader*; HttpError for anything malformed, too big or too slow."""
    try:
        async with asyncio.timeout(HEAD_TIMEOUT_S):
            line = await _line(reader, 414, "the request line is too long")
            method, target = _request_line(line)
            headers = await _headers(reader)
    except TimeoutError:
        raise HttpError(408, "the request head did not arrive in time") from None
    path, query = _target(target)
    body = b""
    if "transfer-encoding" in headers:
        raise HttpError(411, "chunked bodies are not accepted: send Content-Length")
    length_text = headers.get("content-length", "")
    if length_text:
        if not length_text.isdigit() or len(length_text) > 12:
            raise HttpError(400, "bad Content-Length")
        length = int(length_text)
        if length > max_body:
            raise HttpError(413, f"the body is larger than {max_body} bytes")
        try:
            async with asyncio.timeout(BODY_TIMEOUT_S):
                body = await reader.readexactly(length)
        except TimeoutError:
            raise HttpError(408, "the body did not arrive in time") from None
        except asyncio.IncompleteReadError:
            raise HttpError(400, "the body is shorter than Content-Length") from None
    return Request(method, path, query, headers, body)


async def _line(reader: asyncio.StreamReader, status: int, too_long: str) -> bytes:
    try:
        line = await reader.readuntil(b"\n")
    except asyncio.LimitOverrunError:
        raise HttpError(status, too_long) from None
    except asyncio.IncompleteReadError as exc:
        if not exc.partial:
            raise ConnectionResetError("the client sent nothing") from None
        raise HttpError(400, "the request ended early") from None
    if len(line) > MAX_LINE + 2:
        raise HttpError(status, too_long)
    return line.rstrip(b"\r\n")


def _request_line(line: bytes) -> tuple[str, str]:
    try:
        text = line.decode("ascii")
    except UnicodeDecodeError:
        raise HttpError(400, "the request line is not ASCII") from None
    parts = text.split(" ")
    if len(parts) != 3 or not all(parts):
        raise HttpError(400, "malformed request line")
    method, target, version = parts
    if version not in ("HTTP/1.1", "HTTP/1.0"):
        raise HttpError(505, "only HTTP/1.0 and HTTP/1.1 are spoken here")
    if not method.isalpha() or not method.isupper():
        raise HttpError(400, "malformed method")
    if not target.startswith("/"):
        raise HttpError(400, "only origin-form request targets (/path?query): this is no proxy")
    return method, target


async def _headers(reader: asyncio.StreamReader) -> dict[str, str]:
    headers: dict[str, str] = {}
    total = 0
    count = 0
    while True:
        line = await _line(reader, 431, "a header line is too long")
        if not line:
            return headers
        total += len(line)
        count += 1
        if total > MAX_HEAD or count > MAX_HEADERS:
            raise HttpError(431, "too many or too large header fields")
        name, sep, value = line.partition(b":")
        if not sep or not name or name != name.strip() or b" " in name:
            raise HttpError(400, "malformed header line")
        try:
            key = name.decode("ascii").lower()
        except UnicodeDecodeError:
            raise HttpError(400, "a header name is not ASCII") from None
        headers.setdefault(key, value.strip().decode("latin-1"))


def _target(target: str) -> tuple[str, dict[str, str]]:
    split = urlsplit(target)
    try:
        pairs = parse_qsl(
            split.query,
            keep_blank_values=True,
            strict_parsing=False,
            max_num_fields=MAX_QUERY_FIELDS,
            errors="strict",
        )
    except (ValueError, UnicodeDecodeError):
        raise HttpError(
            400, f"bad query string (at most {MAX_QUERY_FIELDS} UTF-8 fields)"
        ) from None
    query: dict[str, str] = {}
    for key, value in pairs:
        query.setdefault(key, value)
    return split.path, query


def response_bytes(
    status: int,
    body: bytes,
    content_type: str = "text/plain; charset=utf-8",
    head_only: bool = False,
    extra: tuple[tuple[str, str], ...] = (),
) -> bytes:
    lines = [
        f"HTTP/1.1 {status} {REASONS.get(status, 'Status')}",
        f"Content-Type: {content_type}",
        f"Content-Length: {len(body)}",
        "Connection: close",
        "Cache-Control: no-store",
        *(f"{name}: {value}" for name, value in extra),
    ]
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return head if head_only else head + body


def error_bytes(error: HttpError, head_only: bool = False) -> bytes:
    """The one-line answer to a refused request: what it quotes of the request is
    scrubbed of secrets and control characters."""
    from probes.core.redact import Redactor
    from probes.core.sanitize import clean_text

    line = clean_text(" ".join(Redactor.for_target(None).text(error.reason).split()), 300)
    return response_bytes(error.status, (line + "\n").encode("utf-8"), head_only=head_only)
