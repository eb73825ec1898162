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
header values must name an environment variable, and a URL with a password or a
secret-named query value (``?token=…``, in ``url`` or ``health``) is refused.  Unknown
keys and bad values are reported with the file and the line and disable that entry
only; TOML syntax errors, nesting deeper than :data:`MAX_DEPTH` and a file over
:data:`MAX_FILE_BYTES` refuse the file.  The file names environment variables whose
values are sent as headers: like ssh with its config, the file (followed through a
symlink) and its folder must be owned by this user or root and writable by nobody
else (:func:`check_private`), or nothing in it is used.
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
from probes.core.redact import is_secret_name
from probes.core.target import Target, TargetError, parse_target
from probes.record.safefile import writable_by_others

FILE_NAME = "services.toml"
MAX_FILE_BYTES = 256 << 10  # thousands of services; a bigger file is not a config
MAX_DEPTH = 32  # tables and arrays in each other: services.toml needs three
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


@dataclass(frozen=True, slots=True)
class ServicesFile:
    """What a services.toml holds: its good entries, and one error (``file:line:
    why``) for each entry that is disabled."""

    services: tuple[SavedService, ...] = ()
    errors: tuple[str, ...] = ()


def load_services(path: Path | None = None) -> tuple[SavedService, ...]:
    """The good saved services (none when the file does not exist); ServicesError
    when the file as a whole is unusable (unsafe, too big, not TOML)."""
    return load_services_file(path).services


def load_services_file(path: Path | None = None) -> ServicesFile:
    """The saved services and the errors of the entries left out (see the module)."""
    path = path or services_path()
    try:
        check_private(path)
        with open(path, "rb") as fh:
            data = fh.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        return ServicesFile()
    except OSError as exc:
        raise ServicesError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if len(data) > MAX_FILE_BYTES:
        raise ServicesError(f"{path}: larger than {MAX_FILE_BYTES >> 10} KiB; not a services file?")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ServicesError(f"{path}: cannot read: {exc}") from None
    return read_services(text, str(path))


def check_private(path: Path) -> None:
    """Refuse a services.toml another user could have written, as ssh refuses such a
    config: the file (and, through a symlink, the file it names) and the folder of
    each must be owned by this user or root and writable by nobody else.
    FileNotFoundError when there is no file."""
    names = [path]
    if path.is_symlink():
        names.append(path.resolve())
    uid = os.getuid()
    for name in names:
        for item in (name, name.parent):
            st = os.stat(item)
            if st.st_uid not in (uid, 0):
                raise ServicesError(
                    f"{item} belongs to uid {st.st_uid}, not to you (uid {uid}); "
                    "refusing to use saved services from it"
                )
            if writable_by_others(st):
                raise ServicesError(
                    f"{item} is writable by others (mode {st.st_mode & 0o7777:04o}); "
                    "refusing to use saved services from it"
                )


def find_service(name: str, path: Path | None = None) -> SavedService:
    path = path or services_path()
    saved = load_services_file(path)
    for service in saved.services:
        if service.name == name:
            return service
    for error in saved.errors:
        if f"[services.{name}]" in error:
            raise ServicesError(error)
    known = ", ".join(s.name for s in saved.services) or "none"
    raise ServicesError(f"no saved service {name!r} in {path} (saved: {known})")


def parse_services(text: str, source: str = FILE_NAME) -> tuple[SavedService, ...]:
    """Every service of *text*; ServicesError at the first problem (strict)."""
    saved = read_services(text, source)
    if saved.errors:
        raise ServicesError(saved.errors[0])
    return saved.services


def read_services(text: str, source: str = FILE_NAME) -> ServicesFile:
    """The services of *text*: a bad entry is an error of its own and left out; a file
    that is not TOML, or nested deeper than :data:`MAX_DEPTH`, raises ServicesError."""
    deep = _too_deep(text)
    if deep:
        raise ServicesError(f"{source}:{deep}: nested more than {MAX_DEPTH} levels deep")
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ServicesError(f"{source}: {exc}") from None
    except RecursionError:  # the depth scan is an estimate; the parser has the last word
        raise ServicesError(f"{source}: nested too deeply") from None
    locate = _Locator(text, source)
    errors: list[str] = []
    for key in doc:
        if key != "services":
            errors.append(
                locate.top(key, f"unknown top-level key {key!r} (only [services.NAME] tables)")
            )
    table = doc.get("services", {})
    if not isinstance(table, dict):
        errors.append(locate.top("services", "'services' must be a table of [services.NAME]"))
        table = {}
    services: list[SavedService] = []
    for name, body in table.items():
        try:
            services.append(_service(name, body, locate))
        except ServicesError as exc:
            errors.append(str(exc))
    return ServicesFile(tuple(services), tuple(errors))


def _too_deep(text: str) -> int:
    """The line where brackets nest past :data:`MAX_DEPTH` (0: never), counting ``[``
    and ``{`` outside strings and comments, as tomllib would recurse into them."""
    depth = 0
    quote = ""
    line = 1
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\n":
            line += 1
            if quote in ('"', "'"):
                quote = ""  # a basic string ends at the line's end (else TOML errs)
        elif quote:
            if c == "\\" and quote == '"':
                i += 1
            elif c == quote:
                quote = ""
        elif c in "\"'":
            quote = c
        elif c == "#":
            end = text.find("\n", i)
            i = len(text) if end < 0 else end
            continue
        elif c in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return line
        elif c in "]}":
            depth = max(0, depth - 1)
        i += 1
    return 0


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
    secret = _secret_query(target.path)
    if secret:
        raise fail("url", f"url carries a secret ({secret}=...): {_KEEP_SECRETS_OUT}")
    health = _string(body, "health", fail)
    if health and not health.startswith("/"):
        raise fail("health", "health must be a path starting with '/'")
    if health:
        secret = _secret_query(health)
        if secret:
            raise fail("health", f"health carries a secret ({secret}=...): {_KEEP_SECRETS_OUT}")
        try:
            parse_target(f"{target.scheme}://{target.host_port}{health}")
        except TargetError as exc:
            raise fail("health", f"health is not a usable path: {exc}") from None
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


_KEEP_SECRETS_OUT = (
    "secrets never go in this file; use headers with an environment variable, "
    "or the client's own config"
)


def _secret_query(path: str) -> str:
    """The first secret-named query parameter of *path* ("" when none)."""
    from urllib.parse import parse_qsl

    query = path.partition("?")[2]
    return next((k for k, _v in parse_qsl(query) if is_secret_name(k)), "")


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
    """Line numbers for errors tomllib does not locate (it parses to plain dicts).

    The lines are indexed once (each table header, each ``key =`` line), so locating
    every entry of a file of thousands of services stays linear."""

    _TABLE = re.compile(r'^\s*\[\s*services\s*\.\s*("?)(?P<name>[^"\]]+)\1\s*\]')
    _INLINE = re.compile(r'^\s*("?)(?P<name>[^"=\s]+)\1\s*=\s*\{')
    _KEY = re.compile(r'^\s*("?)(?P<key>[A-Za-z0-9_-]+)\1\s*=')

    def __init__(self, text: str, source: str) -> None:
        self.lines = text.splitlines()
        self.source = source
        self._heads: dict[str, int] = {}  # service -> its header line
        self._keys: dict[int, dict[str, int]] = {}  # header line -> key -> line
        self._top: dict[str, int] = {}
        section = 0
        for number, line in enumerate(self.lines, 1):
            table = self._TABLE.match(line)
            inline = None if table else self._INLINE.match(line)
            if table or line.lstrip().startswith("["):
                section = number
                if table:
                    self._heads.setdefault(table.group("name"), number)
                self._top.setdefault(line.strip().lstrip("[").split(".")[0].strip(), number)
                continue
            if inline and section and self.lines[section - 1].strip() == "[services]":
                self._heads.setdefault(inline.group("name"), number)
                self._keys[number] = {
                    m.group(1): number for m in re.finditer(r"([A-Za-z0-9_-]+)\s*=", line)
                }
                continue
            key = self._KEY.match(line)
            if key is None:
                continue
            if not section:
                self._top.setdefault(key.group("key"), number)
            else:
                self._keys.setdefault(section, {}).setdefault(key.group("key"), number)

    def header_line(self, name: str) -> int:
        return self._heads.get(name, 0)

    def _at(self, line: int, message: str) -> str:
        return f"{self.source}:{line}: {message}" if line else f"{self.source}: {message}"

    def top(self, key: str, message: str) -> str:
        return self._at(self._top.get(key, 0), message)

    def key(self, name: str, key: str, message: str) -> str:
        head = self.header_line(name)
        if not key or not head:
            return self._at(head, message)
        return self._at(self._keys.get(head, {}).get(key, head), message)


SAMPLE = """\
# netmedic saved services: 'netmedic check @NAME'.  Secrets stay in the environment.
[services.vectors]
url = "http://127.0.0.1:6333"
kind = "qdrant"
headers = { "api-key" = "$QDRANT_API_KEY" }
symptom = "auth"
"""
