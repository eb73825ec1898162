"""Untrusted text (from the network, or read back from disk) made safe to print anywhere.

Certificate names, headers, banners and DNS records come from the network; journals
and reports read from disk may have been edited by someone else.  They are shown as
plain text: no terminal escapes, no control, bidi or other invisible format
characters, no lone surrogates (which cannot even be encoded), capped in length.
Markup escaping for Rich/Textual is the face's job (``tui``); this module removes what
no face should ever receive.

An unsafe character is shown as an escape a person can read back: ``\\x1b`` for the
first 256 code points, ``\\u202e`` or ``\\U000e0041`` above (``\\x202e`` would read
as ``\\x20`` followed by ``2e``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

# Unicode categories Cc (controls, C1 included), Cf (format: bidi overrides and
# isolates, zero-width characters, tags), Cs (surrogates), Zl and Zp (line and
# paragraph separators), as of Unicode 14; tab and newline are handled by callers.
_UNSAFE_RANGES = (
    "\x00-\x08\x0b-\x1f\x7f-\x9f\xad\u0600-\u0605\u061c\u06dd\u070f\u0890-\u0891"
    "\u08e2\u180e\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f\ud800-\udfff"
    "\ufeff\ufff9-\ufffb\U000110bd\U000110cd\U00013430-\U00013438\U0001bca0-\U0001bca3"
    "\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f"
)
_UNSAFE = re.compile(f"[{_UNSAFE_RANGES}]")


def escape_char(char: str) -> str:
    """``\\x1b``, ``\\u202e`` or ``\\U000e0041``: readable, and never ambiguous."""
    cp = ord(char)
    if cp <= 0xFF:
        return f"\\x{cp:02x}"
    if cp <= 0xFFFF:
        return f"\\u{cp:04x}"
    return f"\\U{cp:08x}"


def _escape(match: re.Match[str]) -> str:
    return escape_char(match.group())


def clean_text(text: str, limit: int = 200) -> str:
    """Printable, single-line, length-capped text."""
    text = text.replace("\r\n", "\n").replace("\n", " ").replace("\t", " ")
    text = _UNSAFE.sub(_escape, text)
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text


def clean_bytes(data: bytes, limit: int = 200) -> str:
    """Decode bytes from the wire for display (invalid UTF-8 shown escaped)."""
    return clean_text(data.decode("utf-8", errors="backslashreplace"), limit)


def clean_block(text: str) -> str:
    """Printable text that may keep its tabs and newlines (no length cap)."""
    return _UNSAFE.sub(_escape, text)  # tab and newline are not in the class


def replace_unsafe(text: str, replace: Callable[[str], str]) -> str:
    """*text* with each character :func:`clean_block` would escape given to *replace*
    (a URL path percent-encodes them instead: ``%E2%80%AE``)."""
    return _UNSAFE.sub(lambda m: replace(m.group()), text)


def is_clean(text: str) -> bool:
    """True when *text* holds nothing :func:`clean_block` would escape."""
    return _UNSAFE.search(text) is None


def clean_tree(value: Any) -> Any:
    """Every string in a JSON-like tree (keys too) through :func:`clean_block`.

    For data read from disk (a journal someone else may have edited): it keeps the
    shape and every value, only unsafe characters become readable escapes."""
    if isinstance(value, str):
        return value if is_clean(value) else clean_block(value)
    if isinstance(value, dict):
        return {clean_tree(k) if isinstance(k, str) else k: clean_tree(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean_tree(v) for v in value]
    return value
