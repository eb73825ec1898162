"""A short, safe excerpt of an error response body: the server's own words.

APIs explain a 401 or a 403 in the body ("Must provide an API key", ``{"error":
{"message": "Invalid API key"}}``).  The excerpt prefers the message field of a
JSON body, else the text itself; it is sanitised (no control characters, one
line) and capped.  Secrets a body echoes are removed at the run's boundary
(the Redactor knows every header value sent).
"""

from __future__ import annotations

import json
from typing import Any

from probes.core.sanitize import clean_text

EXCERPT_CAP = 300
READ_CAP = 4096  # bytes of a body kept for the excerpt
_MESSAGE_KEYS = ("message", "error_description", "detail", "error", "title", "description", "msg")


def _message(value: Any, depth: int = 0) -> str:
    """The first message-like string in a JSON value."""
    if depth > 4:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        for key in _MESSAGE_KEYS:
            if key in value:
                found = _message(value[key], depth + 1)
                if found:
                    return found
        for key in ("status", "errors"):
            if key in value:
                found = _message(value[key], depth + 1)
                if found:
                    return found
    if isinstance(value, list) and value:
        return _message(value[0], depth + 1)
    return ""


def excerpt(body: bytes, content_type: str = "") -> str:
    """The server's message from *body*, plain and capped ("" for an empty body)."""
    text = body[:READ_CAP].decode("utf-8", errors="replace").strip()
    if not text:
        return ""
    if "json" in content_type.lower() or text[:1] in "{[":
        try:
            found = _message(json.loads(text))
        except ValueError:
            found = ""
        if found:
            return clean_text(" ".join(found.split()), EXCERPT_CAP)
    if "html" in content_type.lower() or text.lower().startswith(("<!doctype", "<html")):
        import re

        title = re.search(r"<title[^>]*>(.*?)</title>", text, re.I | re.S)
        text = title.group(1) if title else re.sub(r"<[^>]+>", " ", text)
    return clean_text(" ".join(text.split()), EXCERPT_CAP)
