"""Saved services: ``services.toml`` in the config dir, one typed model, strict.

People check the same few services again and again.  Each is saved once::

    [services.vectors]
    url = "http://10.0.0.7:6333"
    kind = "qdrant"                              # optional: a built-in profile kind
    headers = { "api-key" = "$QDRANT_API_KEY" }  # values name environment variables
    health = "/healthz"                          # optional (the kind's default)
    expect = 200                                 # optional: the status health answers
    symptom = "auth"                             # optional: the usual symptom

and checked with ``netmedic check @vectors``.  Secrets are never stored in the file:
header values must name an environment variable, and a URL with a password is
refused.  Unknown keys, bad values and TOML syntax errors are reported with the
file and the line.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from probes.core.context import ProbeConfig
from probes.core.options import OptionError, parse_header_option
from probes.core.profiles import KINDS, kind_for
from probes.core.target import Target, TargetError, parse_target

FILE_NAME = "services.toml"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$")
_HEADER = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}$")
_VAR = re.compile(r"^\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))$")
KEYS = ("url", "kind", "headers", "health", "expect", "symptom", "description")


class ServicesError(ValueError):
    """A bad services.toml; ``str()`` names the file and the line."""


@dataclass(frozen=True, slots=True)
class SavedService:
    name: str
    url: str
    kind: str = ""
    headers: tuple[tuple[str, str], ...] = ()  # (header name, environment variable name)
    health: str = ""
    expect: int = 0
    symptom: str = ""
    description: str = ""
    line: int = 0

    @property
    def check_url(self) -> str:
        """What ``check @name`` probes: the URL, with the health path when it has none."""
        target = parse_target(self.url)
        kind = kind_for(target, self.kind)  # named, or suggested by the port
        health = self.health or (kind.health if kind is not None else "")
        if health and target.path in ("", "/") and target.scheme in ("http", "https"):
            return self.url.rstrip("/") + health
        return self.url

    def header_options(self) -> tuple[str, ...]:
        """The headers as ``--header`` values ('Name: $VAR')."""
        return tuple(f"{name}: ${var}" for name, var in self.headers)


@dataclass(frozen=True, slots=True)
class ServiceCheck:
    """What checking a saved service runs, wherever it is chosen (``check @name``,
    the TUI's picker): its target, its symptom, and what it adds to the config."""

    service: SavedService
    target: Target
    symptom: str
    headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)  # values: secrets

    def configure(self, config: ProbeConfig) -> ProbeConfig:
        """*config* with the service's kind, expected status and headers (before the
        ones *config* already has: an explicit --header still counts)."""
        return dataclasses.replace(
            config,
            headers=self.headers + config.headers,
            service_kind=self.service.kind,
            expect_status=self.service.expect,
        )


def service_check(service: SavedService, env: Mapping[str, str]) -> ServiceCheck:
    """The check of *service*, its header values read from *env*; ServicesError
    (naming the service) when its URL is unusable or a variable is not set."""
    for name, var in service.headers:
        if var not in env:
            raise ServicesError(
                f"saved service @{service.name} sends {name} from ${var}, which is not set"
            )
    try:
        target = parse_target(service.check_url)
        headers = tuple(
            parse_header_option(h, env, f"@{service.name}") for h in service.header_options()
        )
    except (OptionError, TargetError) as exc:
        raise ServicesError(f"saved service @{service.name}: {exc}") from None
    return ServiceCheck(service, target, service.symptom or "auto", headers)


def _did_you_mean(word: str, known: Iterable[str]) -> str:
    """ "; did you mean 'url'?" for a near miss, else the list of what is known."""
    import difflib

    choices = list(known)
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else f" (known: {', '.join(choices)})"


def config_dir() -> Path:
    override = os.environ.get("NETMEDIC_CONFIG_DIR")
    if override:
        return Path(override)
    import platformdirs

    return platformdirs.user_config_path("netmedic", appauthor=False)


def services_path() -> Path:
    return config_dir() / FILE_NAME


def load_services(path: Path | None = None) -> tuple[SavedService, ...]:
    """The saved services (none when the file does not exist); ServicesError when bad."""
    path = path or services_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return ()
    except (OSError, UnicodeDecodeError) as exc:
        raise ServicesError(f"{path}: cannot read: {exc}") from None
    return parse_services(text, str(path))


def find_service(name: str, path: Path | None = None) -> SavedService:
    path = path or services_path()
    services = load_services(path)
    for service in services:
        if service.name == name:
            return service
    known = ", ".join(s.name for s in services) or "none"
    raise ServicesError(f"no saved service {name!r} in {path} (saved: {known})")


def parse_services(text: str, source: str = FILE_NAME) -> tuple[SavedService, ...]:
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ServicesError(f"{source}: {exc}") from None
    locate = _Locator(text, source)
    for key in doc:
        if key != "services":
            raise ServicesError(
                locate.top(key, f"unknown top-level key {key!r} (only [services.NAME] tables)")
            )
    table = doc.get("services", {})
    if not isinstance(table, dict):
        raise ServicesError(locate.top("services", "'services' must be a table of [services.NAME]"))
    return tuple(_service(name, body, locate) for name, body in table.items())


def _service(name: str, body: Any, locate: _Locator) -> SavedService:
    def fail(key: str, why: str) -> ServicesError:
        return ServicesError(locate.key(name, key, f"[services.{name}] {why}"))

    if not _NAME.match(name):
        raise fail("", "the name must be 1-40 letters, digits, '.', '_' or '-'")
    if not isinstance(body, dict):
        raise fail("", "must be a table")
    for key in body:
        if key not in KEYS:
            raise fail(key, f"unknown key {key!r}{_did_you_mean(key, KEYS)}")
    url = body.get("url")
    if not isinstance(url, str) or not url:
        raise fail("url", 'needs url = "scheme://host:port/path"')
    try:
        target = parse_target(url)
    except TargetError as exc:
        raise fail("url", f"url is not usable: {exc}") from None
    if target.password:
        raise fail(
            "url",
            "url carries a password: secrets never go in this file; use headers with an "
            "environment variable, or the client's own config",
        )
    kind = _string(body, "kind", fail)
    if kind and kind not in KINDS:
        raise fail("kind", f"unknown kind {kind!r}{_did_you_mean(kind, KINDS)}")
    headers = _headers(body.get("headers", {}), fail)
    health = _string(body, "health", fail)
    if health and not health.startswith("/"):
        raise fail("health", "health must be a path starting with '/'")
    expect = body.get("expect", 0)
    if (
        not isinstance(expect, int)
        or isinstance(expect, bool)
        or not (expect == 0 or 100 <= expect <= 599)
    ):
        raise fail("expect", "expect must be an HTTP status (100..599)")
    symptom = _string(body, "symptom", fail)
    if symptom:
        from probes.run.plans import SYMPTOM_IDS

        if symptom not in SYMPTOM_IDS:
            raise fail(
                "symptom", f"unknown symptom {symptom!r}{_did_you_mean(symptom, SYMPTOM_IDS)}"
            )
    return SavedService(
        name,
        url,
        kind,
        headers,
        health,
        expect,
        symptom,
        _string(body, "description", fail),
        locate.header_line(name),
    )


def _string(body: dict[str, Any], key: str, fail: Any) -> str:
    value = body.get(key, "")
    if not isinstance(value, str):
        raise fail(key, f"{key} must be a string")
    if any(ord(c) < 32 for c in value):
        raise fail(key, f"{key} contains control characters")
    return value


def _headers(value: Any, fail: Any) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, dict):
        raise fail("headers", 'headers must be a table: { "api-key" = "$VAR" }')
    out = []
    for name, ref in value.items():
        if not _HEADER.match(name) or name.lower() in (
            "host",
            "content-length",
            "connection",
            "upgrade",
            "transfer-encoding",
        ):
            raise fail("headers", f"bad header name {name[:40]!r}")
        match = _VAR.match(ref) if isinstance(ref, str) else None
        if match is None:
            raise fail(
                "headers",
                f'header {name!r} must name an environment variable ("$VAR"): '
                "secrets never go in this file",
            )
        out.append((name, match.group(1) or match.group(2)))
    return tuple(out)


class _Locator:
    """Line numbers for errors tomllib does not locate (it parses to plain dicts)."""

    def __init__(self, text: str, source: str) -> None:
        self.lines = text.splitlines()
        self.source = source

    def _find(self, pattern: str, start: int = 0, stop: int | None = None) -> int:
        rx = re.compile(pattern)
        for i in range(start, len(self.lines) if stop is None else stop):
            if rx.search(self.lines[i]):
                return i + 1
        return 0

    def header_line(self, name: str) -> int:
        quoted = re.escape(name)
        return self._find(rf'^\s*\[\s*services\s*\.\s*("?){quoted}\1\s*\]') or self._find(
            rf'^\s*("?){quoted}\1\s*=\s*\{{'
        )

    def _at(self, line: int, message: str) -> str:
        return f"{self.source}:{line}: {message}" if line else f"{self.source}: {message}"

    def top(self, key: str, message: str) -> str:
        return self._at(self._find(rf"^\s*\[?\s*{re.escape(key)}\b"), message)

    def key(self, name: str, key: str, message: str) -> str:
        head = self.header_line(name)
        if not key or not head:
            return self._at(head, message)
        stop = self._find(r"^\s*\[", head) or len(self.lines) + 1
        line = self._find(rf'^\s*("?){re.escape(key)}\1\s*=', head - 1, stop - 1)
        if not line and re.search(rf"\b{re.escape(key)}\s*=", self.lines[head - 1]):
            line = head  # an inline table on the header line
        return self._at(line or head, message)


SAMPLE = """\
# netmedic saved services: 'netmedic check @NAME'.  Secrets stay in the environment.
[services.vectors]
url = "http://127.0.0.1:6333"
kind = "qdrant"
headers = { "api-key" = "$QDRANT_API_KEY" }
symptom = "auth"
"""
