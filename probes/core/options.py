"""Check options that carry secrets or remote-facing values, validated in one place.

``--header 'Name: $ENV_VAR'`` takes its value from the environment by name, so the
secret never sits in shell history or in a process list.  :func:`known_secrets`
collects every secret value a run holds, for the last-line scrubber of every
output.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from urllib.parse import urlsplit

from probes.core.redact import Redactor
from probes.core.target import Target

_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}$")
_ENV_REF = re.compile(r"^\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))$")
PROXY_VARS = (
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
    "no_proxy",
)
_FORBIDDEN_HEADERS = frozenset(
    {"host", "content-length", "transfer-encoding", "connection", "upgrade"}
)


class OptionError(ValueError):
    """A bad option value; ``str()`` is one line."""


def parse_header_option(
    text: str, env: Mapping[str, str], option: str = "--header"
) -> tuple[str, str]:
    """``'Name: $VAR'`` → (name, value of $VAR).  Errors name *option* (what the
    person typed it into)."""
    name, sep, ref = text.partition(":")
    name, ref = name.strip(), ref.strip()
    if not sep or not _TOKEN.match(name):
        raise OptionError(f"{option} wants 'Name: $ENV_VAR', got a bad header name {name[:40]!r}")
    if name.lower() in _FORBIDDEN_HEADERS:
        raise OptionError(f"{option} may not set {name}")
    m = _ENV_REF.match(ref)
    if not m:
        raise OptionError(
            f"{option} values must name an environment variable ('{name} = $VAR' written "
            f"as '{name}: $VAR'), so the secret stays out of shell history"
        )
    var = m.group(1) or m.group(2)
    if var not in env:
        raise OptionError(f"environment variable {var} (for {option} {name}) is not set")
    value = env[var]
    if any(c in value for c in "\r\n\x00"):
        raise OptionError(
            f"environment variable {var} (for {option} {name}) contains a line break or NUL"
        )
    return name, value


def parse_origin(text: str) -> str:
    """A CORS origin: ``scheme://host[:port]``, normalised without a trailing slash."""
    if text == "null":
        return text
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise OptionError(f"--origin wants http(s)://host[:port], got {text[:80]!r}")
    if parts.username or parts.password or parts.query or parts.path not in ("", "/"):
        raise OptionError(f"--origin is scheme://host[:port] only, got {text[:80]!r}")
    if any(c.isspace() or ord(c) < 32 for c in text):
        raise OptionError("--origin contains whitespace or control characters")
    return f"{parts.scheme}://{parts.netloc}".lower()


def proxy_passwords(env: Mapping[str, str]) -> list[str]:
    out = []
    for var in PROXY_VARS:
        value = env.get(var, "")
        if "@" not in value:
            continue
        try:
            parts = urlsplit(value if "://" in value else f"http://{value}")
        except ValueError:
            continue
        if parts.password:
            out.append(parts.password)
            from urllib.parse import unquote

            out.append(unquote(parts.password))
    return out


def run_redactor(
    target: Target, headers: Iterable[tuple[str, str]], env: Mapping[str, str]
) -> Redactor:
    """The one Redactor of a run: the target's and the environment's secrets, and
    every value this run holds (:func:`known_secrets`)."""
    redactor = Redactor.for_target(target, env)
    for secret in known_secrets(target, headers, env):
        redactor.add(secret)
    return redactor


def known_secrets(
    target: Target, headers: Iterable[tuple[str, str]], env: Mapping[str, str]
) -> list[str]:
    secrets = [value for _, value in headers]
    if target.password:
        secrets.append(target.password)
    secrets += proxy_passwords(env)
    _, _, query = target.path.partition("?")
    if query:
        from urllib.parse import parse_qsl

        from probes.core.redact import is_secret_name

        secrets += [v for k, v in parse_qsl(query, keep_blank_values=True) if is_secret_name(k)]
    return [s for s in secrets if s]
