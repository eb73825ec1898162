"""One redaction mechanism for every output: CLI, JSON, journal, reports.

Secrets are recognised by name (headers, query parameters, environment
variables) and by shape (``scheme://user:password@host`` inside any text).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

REDACTED = "***"

_SECRET_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
        "x-api-key",
        "api-key",
        "apikey",
        "x-auth-token",
        "x-access-token",
        "private-token",
        "x-amz-security-token",
    }
)
_SECRET_WORDS = re.compile(
    r"(pass(word|wd)?|secret|token|api[-_]?key|apikey|access[-_]?key|private[-_]?key|"
    r"^key$|_key$|-key$|^sig$|signature|session|credential|auth)",
    re.IGNORECASE,
)
_URL_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^/@\s]+)@")


def is_secret_name(name: str) -> bool:
    """True for header, query-parameter and variable names that usually hold secrets."""
    lowered = name.strip().lower()
    return lowered in _SECRET_HEADERS or bool(_SECRET_WORDS.search(lowered))


def redact_url_credentials(text: str) -> str:
    """Replace ``user:password@`` in every URL inside *text*."""
    return _URL_USERINFO.sub(lambda m: f"{m.group('scheme')}{REDACTED}@", text)


def redact_headers(headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(k, REDACTED if is_secret_name(k) else v) for k, v in headers]


def redact_env(env: Mapping[str, str]) -> dict[str, str]:
    """Environment variables with secret names masked and URL passwords removed."""
    return {k: REDACTED if is_secret_name(k) else redact_url_credentials(v) for k, v in env.items()}


class SecretScrubber:
    """Removes known secret values (e.g. header values read from env) from text."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)

    def add(self, secret: str) -> None:
        if len(secret) >= 4 and secret not in self._secrets:
            self._secrets.append(secret)
            self._secrets.sort(key=len, reverse=True)

    def __call__(self, text: str) -> str:
        text = redact_url_credentials(text)
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return text
