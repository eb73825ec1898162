"""One redaction mechanism for every output: CLI, JSON, journal, reports, bundle.

Secrets are recognised three ways:

* by **name**: header names (``Authorization``, ``Cookie``, ``X-Api-Key``...),
  query parameters and environment variables (``*_TOKEN``, ``*_KEY``,
  ``*SECRET*``, ``*PASSWORD*``...) — :func:`is_secret_name`;
* by **shape** inside any text: ``scheme://user:password@host``,
  ``name=value`` pairs and ``Header: value`` lines whose name is secret,
  ``Bearer``/``Basic`` credentials — :func:`redact_text`;
* by **value**: secrets this process knows (the target's password, secret
  query values, values of secret environment variables, proxy passwords) are
  removed wherever they appear, even without a telltale name — :class:`Redactor`;
* by **look**, in what a person pastes: private key blocks, vendor tokens
  (``ghp_…``, ``xoxb-…``, ``AKIA…``, ``sk-…``), JWTs and random-looking strings, as
  detect-secrets' plugins find them — :meth:`Redactor.learn_paste`.

Every face builds one :class:`Redactor` (:meth:`Redactor.for_target`) and
passes text (:meth:`Redactor.text`), JSON-able documents (:meth:`Redactor.json`)
or result dataclasses (:meth:`Redactor.obj`) through it before writing.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Protocol, TypeVar
from urllib.parse import parse_qsl, unquote, urlsplit

REDACTED = "***"


class HoldsCredentials(Protocol):
    """What :meth:`Redactor.for_target` reads of a target (``probes.core.target.Target``)."""

    @property
    def password(self) -> str: ...

    @property
    def path(self) -> str: ...


T = TypeVar("T")

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
    r"(passw(or)?d|passphrase|(^|[-_.])pass($|[-_.])|secret|token|api[-_]?key|apikey|access[-_]?key|private[-_]?key|"
    r"^key$|_key$|-key$|^sig$|signature|session|credential|auth)",
    re.IGNORECASE,
)
_URL_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^/@\s]+)@")
# ``name=value`` (query strings, env assignments, cookies); the value runs to a
# separator.  The name check happens in the callback.
_ASSIGNMENT = re.compile(r"(?P<name>[A-Za-z0-9_.-]+)(?P<eq>\s*=\s*)(?P<value>[^\s&;,#\"'<>)]+)")
# ``Header: value`` for the header names that carry credentials: to end of line.
_HEADER_LINE = re.compile(
    r"(?P<name>\b(?:proxy-authorization|authorization|set-cookie|cookie|x-api-key|api-key|apikey|"
    r"x-auth-token|x-access-token|private-token|x-amz-security-token)\b)"
    # The value runs to the end of the line, or is quoted (a shell -H '...', JSON).
    r"(?P<sep>[\"']?\s*:\s*)(?P<value>\"[^\"\r\n]*\"|'[^'\r\n]*'|[^\r\n'\"]+)",
    re.IGNORECASE,
)
# Credentials after an auth scheme (not a challenge's ``realm="..."`` parameters).
# Credentials after an auth scheme (not a challenge's ``realm="..."``).  After
# "basic" the word must look like base64 (a digit, punctuation or an inner
# capital) so that English ("basic authentication") is left alone.
_AUTH_SCHEME = re.compile(
    r"\b(?P<scheme>Bearer|Basic)\s+(?![A-Za-z][A-Za-z0-9_-]*=\")(?P<cred>[A-Za-z0-9._~+/=-]{6,})",
    re.IGNORECASE,
)
_CREDENTIAL_LOOK = re.compile(r"[0-9._~+/=-]|[A-Za-z][A-Z]")


def _auth_credentials(text: str) -> Iterator[re.Match[str]]:
    for m in _AUTH_SCHEME.finditer(text):
        if m.group("scheme").lower() == "bearer" or _CREDENTIAL_LOOK.search(m.group("cred")):
            yield m


PROXY_VARIABLES = (
    "http_proxy",
    "https_proxy",
    "all_proxy",
    "ftp_proxy",
    "no_proxy",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "FTP_PROXY",
    "NO_PROXY",
)
# Authentication challenges name a scheme and realm; showing them is the point.
_CHALLENGES = frozenset({"www-authenticate", "proxy-authenticate"})
MIN_SECRET_LEN = 4
MIN_LEARNED_LEN = 8


# Names that describe a secret's kind rather than hold one: probe data says
# ``signature_algorithm: ecdsa-with-SHA256``, ``auth_method: scram-sha-256``,
# ``public_key: EC secp256r1``.  Masking those hides evidence, and learning their
# values would scrub the words wherever else they appear.
_DESCRIPTIVE = re.compile(
    r"(^public[-_]?key$|[-_](algorithms?|alg|methods?|mechanisms?|schemes?|types?|kind|"
    r"bits|size|len|length|count|required|supported|present|resumed|reused|expired)$)",
    re.IGNORECASE,
)


@functools.lru_cache(maxsize=4096)  # probe data repeats the same few keys endlessly
def is_secret_name(name: str) -> bool:
    """True for header, query-parameter and variable names that usually hold secrets."""
    lowered = name.strip().lower()
    if lowered.replace("_", "-") in _CHALLENGES or _DESCRIPTIVE.search(lowered):
        return False
    return lowered in _SECRET_HEADERS or bool(_SECRET_WORDS.search(lowered))


def redact_url_credentials(text: str) -> str:
    """Replace ``user:password@`` in every URL inside *text*."""
    return _URL_USERINFO.sub(lambda m: f"{m.group('scheme')}{REDACTED}@", text)


def _may_hold_a_shape(text: str) -> bool:
    """Cheap pre-check: every shape :func:`redact_text` and ``learn_text`` look for
    needs ``=``, ``:``, ``@`` or an auth scheme word; most probe strings have none."""
    if "=" in text or ":" in text or "@" in text:
        return True
    lowered = text.lower()
    return "bearer" in lowered or "basic" in lowered


# ``$API_TOKEN`` / ``${API_TOKEN}``: a placeholder in a suggested command, not a secret.
_ENV_PLACEHOLDER = re.compile(r"^\$(\{[A-Za-z_][A-Za-z0-9_]*\}|[A-Za-z_][A-Za-z0-9_]*)$")


def _mask_header_value(m: re.Match[str]) -> str:
    value = m.group("value")
    quote = value[0] if value[:1] in ("'", '"') else ""
    inner = value[1:-1] if quote else value
    if inner.strip().startswith(REDACTED) or _ENV_PLACEHOLDER.match(inner.strip()):
        return m.group(0)
    return f"{m.group('name')}{m.group('sep')}{quote}{REDACTED}{quote}"


def redact_text(text: str) -> str:
    """Remove secrets recognisable by shape or name from free text."""
    if not text or not _may_hold_a_shape(text):
        return text
    text = redact_url_credentials(text)
    text = _HEADER_LINE.sub(_mask_header_value, text)
    for m in reversed(list(_auth_credentials(text))):
        text = f"{text[: m.start('cred')]}{REDACTED}{text[m.end('cred') :]}"

    def assignment(m: re.Match[str]) -> str:
        if m.group("value") == REDACTED or not is_secret_name(m.group("name")):
            return m.group(0)
        return f"{m.group('name')}{m.group('eq')}{REDACTED}"

    return _ASSIGNMENT.sub(assignment, text)


def redact_headers(headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(k, REDACTED if is_secret_name(k) else redact_text(v)) for k, v in headers]


def redact_env(env: Mapping[str, str]) -> dict[str, str]:
    """Environment variables with secret names masked and URL passwords removed."""
    return {k: REDACTED if is_secret_name(k) else redact_text(v) for k, v in env.items()}


def secrets_in_url(url: str) -> list[str]:
    """Password, user info and secret query values of a URL (for value scrubbing)."""
    found: list[str] = []
    try:
        parts = urlsplit(url)
    except ValueError:
        return found
    if parts.password:
        found += [parts.password, unquote(parts.password)]
    found += [v for k, v in parse_qsl(parts.query, keep_blank_values=False) if is_secret_name(k)]
    return found


class SecretScrubber:
    """Removes known secret values (e.g. header values read from env) from text."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: list[str] = []
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str) -> None:
        if len(secret) >= MIN_SECRET_LEN and secret != REDACTED and secret not in self._secrets:
            # A new list, never sorted in place: the TUI's journal thread and its event
            # loop share one Redactor, and list.sort() empties the list while it runs.
            self._secrets = sorted([*self._secrets, secret], key=len, reverse=True)

    def __call__(self, text: str) -> str:
        return self.known(redact_text(text))

    def known(self, text: str) -> str:
        """Only the known secret values (safe on any rendered format)."""
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return text

    def __len__(self) -> int:
        return len(self._secrets)


class Redactor:
    """The redaction every output goes through.

    ``text`` scrubs a string; ``json`` walks a JSON-able document (values under
    secret keys and secret ``[name, value]`` header pairs become ``***``);
    ``obj`` rebuilds dataclasses (probe results, findings) with scrubbed text.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._scrubber = SecretScrubber(secrets)

    @classmethod
    def for_target(
        cls, target: HoldsCredentials | None = None, env: Mapping[str, str] | None = None
    ) -> Redactor:
        """Know the secrets of *target* and of the environment (default ``os.environ``)."""
        env = os.environ if env is None else env
        secrets: list[str] = []
        if target is not None:
            if target.password:
                secrets.append(target.password)
            secrets += secrets_in_url(f"http://h{target.path}")
        for name, value in env.items():
            if is_secret_name(name):
                secrets.append(value)
            elif "://" in value:
                secrets += secrets_in_url(value)
        return cls(secrets)

    def add(self, secret: str) -> None:
        self._scrubber.add(secret)

    def learn_paste(self, text: str) -> None:
        """Remember every secret *text* shows by its look (``probes.core.detectors``,
        imported only now: a paste is rare, start-up is not), to scrub it anywhere."""
        from probes.core.detectors import secrets_in

        for secret in secrets_in(text):
            self.add(secret)

    def text(self, text: str) -> str:
        self.learn_text(text)
        return self._scrubber(text)

    def learn_text(self, text: str) -> None:
        """Remember secret values *text* shows with their name, to scrub them anywhere."""
        if not _may_hold_a_shape(text):
            return
        for m in _HEADER_LINE.finditer(text):
            value = m.group("value").strip().strip("\"'")
            self._learned(value)
            for auth in _auth_credentials(value):
                self._learned(auth.group("cred"))
            for cookie in value.split(";"):
                self._learned(cookie.partition("=")[2].strip())
        for m in _auth_credentials(text):
            self._learned(m.group("cred"))
        for m in _ASSIGNMENT.finditer(text):
            if is_secret_name(m.group("name")):
                self._learned(m.group("value"))
        for m in re.finditer(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s/@]+@[^\s]*", text):
            for secret in secrets_in_url(m.group(0)):
                self._learned(secret)

    def learn_json(self, value: Any) -> None:
        """Remember every secret a document shows by name (walks it once)."""
        if isinstance(value, str):
            self.learn_text(value)
        elif isinstance(value, Mapping):
            for key, item in value.items():
                if is_secret_name(str(key)) and _maskable(item):
                    self._learn_value(item)
                else:
                    self.learn_json(item)
        elif isinstance(value, list | tuple):
            if len(value) == 2 and isinstance(value[0], str) and is_secret_name(value[0]):
                self._learn_value(value[1])
            else:
                for item in value:
                    self.learn_json(item)

    def _learn_value(self, value: Any) -> None:
        if isinstance(value, list | tuple):
            for item in value:
                self._learn_value(item)
        elif isinstance(value, str):
            self._learned(value)
            self.learn_text(f"Authorization: {value}")  # "Bearer X", "a=b; c=d"

    def known(self, text: str) -> str:
        """Remove only known secret values: a last pass over a rendered file."""
        return self._scrubber.known(text)

    def _learned(self, value: str) -> None:
        # Learned values must look like secrets, not like "true", "none" or "$API_TOKEN".
        if len(value) >= MIN_LEARNED_LEN and not _ENV_PLACEHOLDER.match(value):
            self.add(value)

    def json(self, value: Any) -> Any:
        """A redacted copy of a JSON-able value (dicts, lists, scalars)."""
        self.learn_json(value)
        return self._json(value)

    def _json(self, value: Any) -> Any:
        if isinstance(value, str):
            return self._scrubber(value)  # learn_json has already learned from it
        if isinstance(value, Mapping):
            out: dict[str, Any] = {}
            for key, item in value.items():
                name = self.text(str(key))
                if is_secret_name(str(key)) and _maskable(item):
                    out[name] = REDACTED
                else:
                    out[name] = self._json(item)
            return out
        if isinstance(value, list | tuple):
            if (
                len(value) == 2
                and isinstance(value[0], str)
                and is_secret_name(value[0])
                and _maskable(value[1])
            ):
                return [self.text(value[0]), REDACTED]
            return [self._json(v) for v in value]
        return value

    def obj(self, value: T) -> T:
        """A copy of a dataclass tree with every string scrubbed."""
        from probes.core.model import to_jsonable

        self.learn_json(to_jsonable(value))
        result: T = _scrub_obj(value, self)
        return result


def _maskable(value: Any) -> bool:
    """Values under a secret name that get masked whole: scalars and lists of scalars.

    Objects are walked instead (a ``"session": {...}`` section is not a secret).
    """
    if isinstance(value, list | tuple):
        return bool(value) and all(_maskable(v) for v in value)
    return isinstance(value, str | int | float) and not isinstance(value, bool) and value != ""


def _scrub_obj(value: Any, redactor: Redactor) -> Any:
    if isinstance(value, enum.Enum):
        return value
    if isinstance(value, str):
        return redactor.text(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {
            f.name: _scrub_obj(getattr(value, f.name), redactor)
            for f in dataclasses.fields(value)
            if f.init and f.repr  # hidden fields (credentials) never reach output anyway
        }
        return dataclasses.replace(value, **changes)
    if isinstance(value, tuple):
        if len(value) == 2 and isinstance(value[0], str) and is_secret_name(value[0]):
            return (value[0], REDACTED)
        return tuple(_scrub_obj(v, redactor) for v in value)
    if isinstance(value, list):
        return [_scrub_obj(v, redactor) for v in value]
    if isinstance(value, dict):
        return {
            k: (REDACTED if isinstance(k, str) and is_secret_name(k) else _scrub_obj(v, redactor))
            for k, v in value.items()
        }
    return value
