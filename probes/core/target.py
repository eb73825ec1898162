"""Turn what a person types into a validated :class:`Target`.

One parser for ``host``, ``host:port``, ``[v6]:port`` and
``scheme://[user:pass@]host[:port]/path``.  Anything it cannot make sense of is
refused with :class:`TargetError`, whose message is one line a person can act on.
The parser never raises anything else (a hypothesis test holds it to that).
"""

from __future__ import annotations

import ipaddress
import re
import socket
import struct
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, quote, urlencode

import idna

from probes.core.redact import is_secret_name
from probes.core.sanitize import replace_unsafe

DEFAULT_PORTS: dict[str, int] = {
    "http": 80,
    "https": 443,
    "ws": 80,
    "wss": 443,
    "tls": 443,
    "postgres": 5432,
    "postgresql": 5432,
    "redis": 6379,
    "rediss": 6379,
    "smtp": 25,
    "ssh": 22,
}
SCHEMES = frozenset({*DEFAULT_PORTS, "tcp"})
TLS_SCHEMES = frozenset({"https", "wss", "tls", "rediss"})

MAX_INPUT = 2048
_LABEL_CHARS = re.compile(r"^[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")


class TargetError(ValueError):
    """The input is not a usable target; ``str()`` is a one-line reason."""


@dataclass(frozen=True, slots=True)
class Target:
    """A validated connection target.

    ``host`` is the ASCII form used on the wire (punycode for IDN, canonical
    dotted quad for odd IPv4 spellings, compressed IPv6 without brackets or zone).
    """

    input: str  # what was typed, with credentials and secret query values redacted
    host: str
    port: int
    scheme: str  # "tcp" when none was given
    # The real path and query (sent on the wire); may hold secret query values,
    # so it stays out of repr/JSON.  ``shown_path`` is the redacted form.
    path: str = field(default="/", repr=False)
    host_unicode: str = ""  # the Unicode form of an IDN host, else equal to host
    ip_version: int = 0  # 4 or 6 when host is an address literal, else 0
    zone: str = ""  # IPv6 zone id (``fe80::1%eth0``); never sent in Host or SNI
    port_explicit: bool = False
    # Credentials are kept for probes that need them (Redis AUTH, Basic auth) but
    # never appear in repr, JSON or any rendered output.
    username: str = field(default="", repr=False, compare=False)
    password: str = field(default="", repr=False, compare=False)

    @property
    def is_ip(self) -> bool:
        return self.ip_version != 0

    @property
    def tls(self) -> bool:
        return self.scheme in TLS_SCHEMES

    @property
    def has_credentials(self) -> bool:
        return bool(self.username or self.password)

    @property
    def display_host(self) -> str:
        """The host as a person reads it: Unicode for IDN, brackets for IPv6."""
        if self.ip_version == 6:
            return f"[{self.host}]"
        return self.host_unicode or self.host

    @property
    def host_port(self) -> str:
        host = f"[{self.host}]" if self.ip_version == 6 else self.host
        return f"{host}:{self.port}"

    @property
    def sni(self) -> str | None:
        """Server name for TLS: never an IP literal, never with a zone id."""
        return None if self.is_ip else self.host

    @property
    def shown_path(self) -> str:
        """The path for output: secret-looking query values redacted."""
        path, sep, query = self.path.partition("?")
        return path + (f"?{_redact_query(query)}" if sep else "")

    def url(self) -> str:
        """The target as a URL without credentials (for HTTP-ish probes)."""
        scheme = self.scheme if self.scheme in {"http", "https", "ws", "wss"} else "http"
        default = DEFAULT_PORTS.get(scheme)
        port = "" if self.port == default else f":{self.port}"
        host = f"[{self.host}]" if self.ip_version == 6 else self.host
        return f"{scheme}://{host}{port}{self.path}"


def endpoint(address: str, port: int) -> str:
    """``address:port``, with brackets around an IPv6 address."""
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


def parse_target(text: str, default_port: int | None = None) -> Target:
    """Parse and validate *text*; raise :class:`TargetError` on bad input."""
    if not isinstance(text, str):
        raise TargetError("target must be text")
    if len(text) > MAX_INPUT:
        raise TargetError(f"target is {len(text)} characters long; the limit is {MAX_INPUT}")
    if _CONTROL.search(text):
        raise TargetError("target contains control characters (CR, LF, NUL or similar)")
    raw = text.strip()
    if not raw:
        raise TargetError("target is empty")
    if raw.startswith("-"):
        raise TargetError(f"target may not start with '-': {_quote(raw)}")
    if any(ch.isspace() for ch in raw):
        raise TargetError(f"target contains whitespace: {_quote(raw)}")

    scheme = "tcp"
    rest = raw
    explicit_scheme = False
    m = _SCHEME.match(raw)
    if m:
        scheme = m.group(1).lower()
        if scheme not in SCHEMES:
            known = ", ".join(sorted(SCHEMES))
            raise TargetError(f"unknown scheme {scheme!r}; use one of: {known}")
        rest = raw[m.end() :]
        explicit_scheme = True
    elif "://" in raw or raw.startswith("//"):
        raise TargetError(f"malformed scheme in {_quote(raw)}")

    authority, path, query = _split_authority(rest)
    username = password = ""
    if "@" in authority:
        userinfo, _, authority = authority.rpartition("@")
        username, _, password = userinfo.partition(":")
        if not explicit_scheme:
            raise TargetError("credentials are only accepted in a URL (scheme://user:pass@host)")
    host_text, port_text = _split_host_port(authority)

    port = _parse_port(port_text) if port_text is not None else None
    port_explicit = port is not None
    if port is None:
        port = DEFAULT_PORTS.get(scheme, default_port)
    if port is None:
        raise TargetError(
            f"no port given for {_quote(host_text)}; write host:port or use a URL scheme"
        )

    host, host_unicode, version, zone = _parse_host(host_text)
    if not explicit_scheme and not path and not query:
        path = "/"
    path = _visible(path or "/")
    query = _visible(query)
    redacted_query = _redact_query(query)
    full_path = path + (f"?{query}" if query else "")
    shown = _display_input(
        scheme if explicit_scheme else "",
        bool(username or password),
        authority,
        path if explicit_scheme else "",
        redacted_query,
    )
    return Target(
        input=shown,
        host=host,
        port=port,
        scheme=scheme,
        path=full_path,
        host_unicode=host_unicode,
        ip_version=version,
        zone=zone,
        port_explicit=port_explicit,
        username=username,
        password=password,
    )


def _split_authority(rest: str) -> tuple[str, str, str]:
    """Split ``authority/path?query#frag`` (fragment dropped)."""
    rest = rest.split("#", 1)[0]
    query = ""
    if "?" in rest:
        rest, query = rest.split("?", 1)
    if "/" in rest:
        authority, slash, path = rest.partition("/")
        return authority, slash + path, query
    return rest, "", query


def _split_host_port(authority: str) -> tuple[str, str | None]:
    if not authority:
        raise TargetError("target has no host")
    if authority.startswith("["):
        end = authority.find("]")
        if end < 0:
            raise TargetError(f"unclosed '[' in {_quote(authority)}")
        host = authority[1:end]
        tail = authority[end + 1 :]
        if not tail:
            return host, None
        if not tail.startswith(":"):
            raise TargetError(f"unexpected text after ']' in {_quote(authority)}")
        return host, tail[1:]
    if authority.count(":") > 1:
        # A bare IPv6 address: no port can be told apart from it.
        return authority, None
    if ":" in authority:
        host, _, port = authority.partition(":")
        return host, port
    return authority, None


def _parse_port(text: str) -> int:
    # Check the range ourselves: getaddrinfo would quietly map 65536 to 0.
    if not text:
        raise TargetError("port is empty after ':'")
    if not text.isascii() or not text.isdigit():
        raise TargetError(f"port must be a number: {_quote(text)}")
    if len(text) > 5 or not 1 <= int(text) <= 65535:
        raise TargetError(f"port {text} is outside 1..65535")
    return int(text)


def _parse_host(text: str) -> tuple[str, str, int, str]:
    """Return (ascii host, unicode host, ip version, zone)."""
    if not text:
        raise TargetError("target has no host")
    zone = ""
    if "%" in text:
        addr, _, zone = text.partition("%")
        try:
            ip6 = ipaddress.IPv6Address(addr)
        except ValueError:
            raise TargetError(f"'%' is only allowed for an IPv6 zone: {_quote(text)}") from None
        if not zone or not re.fullmatch(r"[A-Za-z0-9_.-]{1,15}", zone):
            raise TargetError(f"bad IPv6 zone id in {_quote(text)}")
        return ip6.compressed, ip6.compressed, 6, zone
    if ":" in text:
        try:
            ip6 = ipaddress.IPv6Address(text)
        except ValueError:
            raise TargetError(f"not a valid IPv6 address: {_quote(text)}") from None
        return ip6.compressed, ip6.compressed, 6, ""
    v4 = _canonical_ipv4(text)
    if v4 is not None:
        return v4, v4, 4, ""
    name = text[:-1] if text.endswith(".") else text
    if not name:
        raise TargetError("target has no host")
    ascii_labels = [_ascii_label(label, text) for label in name.split(".")]
    ascii_name = ".".join(ascii_labels)
    if len(ascii_name) > 253:
        raise TargetError(f"host name is {len(ascii_name)} bytes long; the limit is 253")
    if ascii_name.split(".")[-1].isdigit():
        raise TargetError(f"not a valid IPv4 address or host name: {_quote(text)}")
    try:
        unicode_name = idna.decode(ascii_name)
    except (idna.IDNAError, UnicodeError):
        unicode_name = ascii_name
    return ascii_name, unicode_name, 0, ""


def _ascii_label(label: str, text: str) -> str:
    """One DNS label in its wire (ASCII/punycode) form, validated."""
    if not label:
        raise TargetError(f"empty label in host name {_quote(text)}")
    if label.isascii():
        ascii_label = label.lower()
    else:
        try:
            ascii_label = idna.encode(label, uts46=True).decode("ascii")
        except (idna.IDNAError, UnicodeError) as exc:
            raise TargetError(f"invalid host name {_quote(text)}: {_first_line(exc)}") from None
    if len(ascii_label) > 63:
        raise TargetError(
            f"label {ascii_label[:20]}... is {len(ascii_label)} bytes; the limit is 63"
        )
    if not _LABEL_CHARS.match(ascii_label):
        raise TargetError(f"host name {_quote(text)} contains characters not allowed in DNS")
    return ascii_label


def _canonical_ipv4(text: str) -> str | None:
    """Canonical dotted quad for every form inet_aton accepts (``127.1``, ``0x7f.1``)."""
    if not re.fullmatch(r"[0-9a-fA-FxX.]+", text) or not text[0].isdigit():
        return None
    try:
        packed = socket.inet_aton(text)
    except OSError:
        return None
    return socket.inet_ntoa(struct.pack("!4s", packed))


def _redact_query(query: str) -> str:
    if not query:
        return ""
    pairs = parse_qsl(query, keep_blank_values=True)
    if not pairs:
        return query
    return urlencode([(k, "***" if is_secret_name(k) else v) for k, v in pairs], safe="*")


def _display_input(scheme: str, has_creds: bool, authority: str, path: str, query: str) -> str:
    host_part = authority.rpartition("@")[2]
    creds = "***@" if has_creds else ""
    prefix = f"{scheme}://" if scheme else ""
    tail = path + (f"?{query}" if query else "")
    return f"{prefix}{creds}{host_part}{tail}"


def _visible(part: str) -> str:
    """A path or query with bidi, zero-width and other invisible characters
    percent-encoded, as a client sends them: they never reach a terminal or journal
    raw (``/a\u202eb`` is ``/a%E2%80%AEb``)."""
    return replace_unsafe(part, lambda char: quote(char, safe=""))


def _quote(text: str) -> str:
    shown = text if len(text) <= 80 else text[:77] + "..."
    return repr(shown)


def _first_line(exc: BaseException) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
