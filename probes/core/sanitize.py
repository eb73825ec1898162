"""Remote text is untrusted: make it safe to print anywhere.

Certificate names, headers, banners and DNS records come from the network.  They
are shown as plain text: no terminal escapes, no control characters, capped in
length.  Markup escaping for Rich/Textual is the face's job (``tui``); this
module removes what no face should ever receive.
"""

from __future__ import annotations

import re

_UNSAFE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069]")


def clean_text(text: str, limit: int = 200) -> str:
    """Printable, single-line, length-capped text."""
    text = text.replace("\r\n", "\n").replace("\n", " ").replace("\t", " ")
    text = _UNSAFE.sub(lambda m: f"\\x{ord(m.group()):02x}", text)
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text


def clean_bytes(data: bytes, limit: int = 200) -> str:
    """Decode bytes from the wire for display (invalid UTF-8 shown escaped)."""
    return clean_text(data.decode("utf-8", errors="backslashreplace"), limit)
