"""``exporter.toml``: what ``netmedic exporter`` may probe, and how (one typed model, strict).

::

    [exporter]
    listen = "127.0.0.1:9469"
    allow = ["127.0.0.1", "db.internal:5432", "*.example.com", "10.0.0.0/8"]
    max_concurrent = 8       # checks running at once
    max_rate = 10            # checks started per second (a burst of max_concurrent)
    alert_interval = 300     # seconds: at most one alert-driven diagnosis per target
    keep_days = 7            # journals of runs whose verdict was not ok are kept this long
    keep_ok = 1              # and the latest ok runs per target (the rest are removed)
    keep_sessions = 5000     # at most this many exporter journals in all
    keep_mb = 256            # taking at most this many MiB (the oldest go first)

    [modules.http_2xx]
    symptom = "auto"
    timeout = 5
    headers = { "Authorization" = "$API_TOKEN" }   # values name environment variables
    expect = 200
    ca_file = "/etc/ssl/internal-ca.pem"

No open relay: a target is probed only when an ``allow`` entry covers it (a host
name or glob, host:port, or a network for address literals), or when it is a saved
service (``@NAME`` from services.toml, which the person wrote themselves).  Unknown
keys, bad values and TOML syntax errors are one line naming the file.  The ``keep_*``
keys bound the exporter's journals (:mod:`probes.record.retention`).
"""

from __future__ import annotations

import dataclasses
import fnmatch
import ipaddress
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from probes.core.context import ProbeConfig
from probes.core.options import OptionError, parse_header_option
from probes.core.target import Target
from probes.record.retention import Retention
from probes.record.services import config_dir

FILE_NAME = "exporter.toml"
DEFAULT_LISTEN = ("127.0.0.1", 9469)
DEFAULT_MODULE = "default"
EXPORTER_KEYS = (
    "listen",
    "allow",
    "max_concurrent",
    "max_rate",
    "alert_interval",
    "keep_days",
    "keep_ok",
    "keep_sessions",
    "keep_mb",
)
MODULE_KEYS = ("symptom", "timeout", "headers", "expect", "ca_file")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$")
_VAR = re.compile(r"^\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))$")
_HOST_GLOB = re.compile(r"^[A-Za-z0-9*?._-]{1,253}$")


class ExporterConfigError(ValueError):
    """A bad exporter.toml; ``str()`` is one line naming the file."""


@dataclass(frozen=True, slots=True)
class Module:
    """How one kind of scrape checks its target (blackbox's module)."""

    name: str
    symptom: str = "auto"
    timeout: float = 5.0
    headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)  # values: secrets
    expect: int = 0
    ca_file: str | None = None

    def configure(self, config: ProbeConfig) -> ProbeConfig:
        return dataclasses.replace(
            config,
            headers=self.headers + config.headers,
            expect_status=self.expect or config.expect_status,
            ca_file=self.ca_file or config.ca_file,
        )


@dataclass(frozen=True, slots=True)
class AllowRule:
    """One ``allow`` entry: a host glob (any port, or one), or a network."""

    text: str
    host: str = ""  # lower-case glob; "" for a network
    port: int = 0  # 0: any
    network: ipaddress.IPv4Network | ipaddress.IPv6Network | None = None

    def covers(self, target: Target) -> bool:
        if self.port and target.port != self.port:
            return False
        if self.network is not None:
            if not target.is_ip:
                return False  # a name may resolve anywhere: networks cover literals only
            address = ipaddress.ip_address(target.host)
            return address.version == self.network.version and address in self.network
        return fnmatch.fnmatchcase(target.host.lower().rstrip("."), self.host)


@dataclass(frozen=True, slots=True)
class ExporterConfig:
    listen: tuple[str, int] = DEFAULT_LISTEN
    allow: tuple[AllowRule, ...] = ()
    max_concurrent: int = 8
    max_rate: float = 10.0
    alert_interval: float = 300.0
    modules: Mapping[str, Module] = field(
        default_factory=lambda: {DEFAULT_MODULE: Module(DEFAULT_MODULE)}
    )
    source: str = ""
    retention: Retention = field(default_factory=Retention)

    def allows(self, target: Target) -> bool:
        return any(rule.covers(target) for rule in self.allow)


def exporter_path() -> Path:
    return config_dir() / FILE_NAME


def load_exporter_config(path: Path | None, env: Mapping[str, str] | None = None) -> ExporterConfig:
    """The config at *path* (the default file when None: missing is the defaults)."""
    explicit = path is not None
    path = path or exporter_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if explicit:
            raise ExporterConfigError(f"{path}: no such file") from None
        return ExporterConfig(source=str(path))
    except (OSError, UnicodeDecodeError) as exc:
        raise ExporterConfigError(f"{path}: cannot read: {exc}") from None
    return parse_exporter_config(text, str(path), os.environ if env is None else env)


def parse_exporter_config(
    text: str, source: str = FILE_NAME, env: Mapping[str, str] | None = None
) -> ExporterConfig:
    env = os.environ if env is None else env
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ExporterConfigError(f"{source}: {exc}") from None

    def fail(where: str, why: str) -> ExporterConfigError:
        return ExporterConfigError(f"{source}: [{where}] {why}")

    for key in doc:
        if key not in ("exporter", "modules"):
            raise ExporterConfigError(
                f"{source}: unknown top-level key {key!r} (only [exporter] and [modules.NAME])"
            )
    body = doc.get("exporter", {})
    if not isinstance(body, dict):
        raise fail("exporter", "must be a table")
    for key in body:
        if key not in EXPORTER_KEYS:
            raise fail("exporter", f"unknown key {key!r} (known: {', '.join(EXPORTER_KEYS)})")
    listen = parse_listen(body.get("listen", "127.0.0.1:9469"), lambda why: fail("exporter", why))
    allow_list = body.get("allow", [])
    if not isinstance(allow_list, list) or not all(isinstance(a, str) for a in allow_list):
        raise fail(
            "exporter", 'allow must be a list of strings: ["host", "host:port", "10.0.0.0/8"]'
        )
    allow = tuple(_allow_rule(a, lambda why: fail("exporter", why)) for a in allow_list)
    max_concurrent = _number(body, "max_concurrent", 8, 1, 256, fail, whole=True)
    max_rate = _number(body, "max_rate", 10.0, 0.1, 1000, fail)
    alert_interval = _number(body, "alert_interval", 300.0, 1, 86400, fail)
    retention = _retention(body, fail)
    tables = doc.get("modules", {})
    if not isinstance(tables, dict):
        raise ExporterConfigError(f"{source}: 'modules' must be a table of [modules.NAME]")
    modules = {name: _module(name, spec, env, fail) for name, spec in tables.items()}
    modules.setdefault(DEFAULT_MODULE, Module(DEFAULT_MODULE))
    return ExporterConfig(
        listen, allow, int(max_concurrent), max_rate, alert_interval, modules, source, retention
    )


def _retention(body: dict[str, Any], fail: Any) -> Retention:
    default = Retention()
    return Retention(
        keep_days=_number(body, "keep_days", default.keep_days, 0.001, 3650, fail),
        keep_ok=int(_number(body, "keep_ok", default.keep_ok, 0, 1000, fail, whole=True)),
        keep_sessions=int(
            _number(body, "keep_sessions", default.keep_sessions, 1, 10_000_000, fail, whole=True)
        ),
        keep_mb=_number(body, "keep_mb", default.keep_mb, 1, 10_000_000, fail),
    )


def parse_listen(value: object, fail: Any) -> tuple[str, int]:
    """``host:port`` or ``[v6]:port`` to listen on."""
    if not isinstance(value, str):
        raise fail("listen must be a string 'host:port'")
    m = re.fullmatch(r"\[([0-9A-Fa-f:.]+)\]:(\d{1,5})|([^:\[\]\s]+):(\d{1,5})", value)
    if m is None:
        raise fail(f"listen wants 'host:port' or '[v6]:port', got {value[:60]!r}")
    host = m.group(1) or m.group(3)
    port = int(m.group(2) or m.group(4))
    if not 1 <= port <= 65535:
        raise fail(f"listen port {port} is outside 1..65535")
    return host, port


def _allow_rule(text: str, fail: Any) -> AllowRule:
    entry = text.strip().lower()
    if "/" in entry:
        try:
            return AllowRule(text, network=ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise fail(f"allow entry {text[:60]!r} is not a network") from None
    host, port = entry, 0
    m = re.fullmatch(
        r"\[([0-9a-f:.]+)\](?::(\d{1,5}))?|([^:]+)(?::(\d{1,5}))?|([0-9a-f:.]+)", entry
    )
    if m is None:
        raise fail(f"allow entry {text[:60]!r} is not host, host:port or a network")
    host = m.group(1) or m.group(3) or m.group(5)
    port = int(m.group(2) or m.group(4) or 0)
    if port > 65535:
        raise fail(f"allow entry {text[:60]!r}: port outside 1..65535")
    try:
        host = str(ipaddress.ip_address(host))  # canonical, as targets are
    except ValueError:
        if not _HOST_GLOB.match(host):
            raise fail(f"allow entry {text[:60]!r} is not a host name or glob") from None
    return AllowRule(text, host=host.rstrip("."), port=port)


def _number(
    body: dict[str, Any],
    key: str,
    default: float,
    low: float,
    high: float,
    fail: Any,
    whole: bool = False,
    where: str = "exporter",
) -> float:
    value = body.get(key, default)
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or (whole and not isinstance(value, int))
    ):
        raise fail(where, f"{key} must be a {'whole ' if whole else ''}number")
    if not low <= value <= high:
        raise fail(where, f"{key} must be between {low:g} and {high:g}")
    return float(value)


def _module(name: str, spec: Any, env: Mapping[str, str], fail: Any) -> Module:
    where = f"modules.{name}"
    if not _NAME.match(name):
        raise fail(where, "the name must be 1-40 letters, digits, '.', '_' or '-'")
    if not isinstance(spec, dict):
        raise fail(where, "must be a table")
    for key in spec:
        if key not in MODULE_KEYS:
            raise fail(where, f"unknown key {key!r} (known: {', '.join(MODULE_KEYS)})")
    symptom = spec.get("symptom", "auto")
    from probes.run.plans import SYMPTOM_IDS

    if symptom not in SYMPTOM_IDS:
        raise fail(
            where, f"unknown symptom {str(symptom)[:40]!r} (known: {', '.join(SYMPTOM_IDS)})"
        )
    timeout = _number(spec, "timeout", 5.0, 0.1, 120, fail, where=where)
    expect = spec.get("expect", 0)
    if (
        isinstance(expect, bool)
        or not isinstance(expect, int)
        or not (expect == 0 or 100 <= expect <= 599)
    ):
        raise fail(where, "expect must be an HTTP status (100..599)")
    headers = _headers(spec.get("headers", {}), env, lambda why: fail(where, why))
    ca_file = spec.get("ca_file")
    if ca_file is not None and (not isinstance(ca_file, str) or not ca_file):
        raise fail(where, "ca_file must be a path")
    if ca_file is not None and not os.access(ca_file, os.R_OK):
        raise fail(where, f"ca_file {ca_file[:200]!r} is not readable")
    return Module(name, symptom, timeout, headers, expect, ca_file)


def _headers(value: Any, env: Mapping[str, str], fail: Any) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, dict):
        raise fail('headers must be a table: { "Authorization" = "$VAR" }')
    out = []
    for name, ref in value.items():
        match = _VAR.match(ref) if isinstance(ref, str) else None
        if match is None:
            raise fail(
                f'header {str(name)[:40]!r} must name an environment variable ("$VAR"): '
                "secrets never go in this file"
            )
        var = match.group(1) or match.group(2)
        if var not in env:
            raise fail(f"header {name!r} is read from ${var}, which is not set")
        try:
            out.append(parse_header_option(f"{name}: ${var}", env, "headers"))
        except OptionError as exc:
            raise fail(str(exc)) from None
    return tuple(out)
