"""Name the protocol that answers on a port from its first bytes."""

from __future__ import annotations

import re

_PATTERNS: tuple[tuple[str, re.Pattern[bytes]], ...] = (
    ("SSH", re.compile(rb"^SSH-\d")),
    ("HTTP", re.compile(rb"^HTTP/\d")),
    ("SMTP", re.compile(rb"^220[ -].*(SMTP|ESMTP|mail)", re.IGNORECASE)),
    ("FTP", re.compile(rb"^220[ -].*FTP", re.IGNORECASE)),
    ("SMTP", re.compile(rb"^220[ -]")),
    ("POP3", re.compile(rb"^\+OK")),
    ("IMAP", re.compile(rb"^\* (OK|PREAUTH)")),
    ("Redis", re.compile(rb"^(-ERR|-NOAUTH|\+PONG|-DENIED)")),
    ("MySQL", re.compile(rb"^.{4}\x0a\d+\.\d+", re.DOTALL)),
    ("AMQP", re.compile(rb"^AMQP")),
)


def identify(data: bytes) -> str | None:
    """A protocol name for a server's greeting or reply, or None."""
    if not data:
        return None
    if data[0] == 0x16 and len(data) >= 3 and data[1] == 0x03:
        return "TLS"
    if data[0] == 0x15 and len(data) >= 3 and data[1] == 0x03:
        return "TLS (alert)"
    for name, pattern in _PATTERNS:
        if pattern.search(data[:256]):
            return name
    if data[:1] in (b"E", b"R") and len(data) >= 5 and data[1:3] == b"\x00\x00":
        return "PostgreSQL"
    return None


# Sent to a silent server to make it reveal itself: many protocols wait for the
# client.  A bare CRLF pair is harmless to text protocols and makes HTTP servers
# answer 400, TLS servers answer with an alert, Redis answer with an error.
NUDGE = b"\r\n\r\n"
