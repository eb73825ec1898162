"""Find the target an error text names: scheme, host, port, path — never invented.

Forms are tried from the most specific (a library's own message shape, such as
urllib3's ``HTTPConnectionPool(host='qdrant', port=6333)`` or psql's ``connection to
server at "db.internal" (10.0.0.5), port 5432``) to the least (any URL, any
``host:port``).  The first form found wins, even without a port: a Go ``lookup db on
127.0.0.53:53`` names the host ``db``; the resolver's address is not the target.
Documentation links (``https://curl.se/docs/...``) are never targets.

When the text names no host, :func:`name_target` says so (``None``); a face then
asks (TUI) or exits saying what is missing (CLI).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from probes.core.redact import REDACTED
from probes.core.target import Target, TargetError, parse_target

URL_SCHEMES = ("https", "http", "wss", "ws", "rediss", "redis", "postgresql", "postgres")
_URL = r"(?:" + "|".join(URL_SCHEMES) + r")://[^\s'\"<>`)\]]+"
_HOST = r"[A-Za-z0-9](?:[A-Za-z0-9_.-]*[A-Za-z0-9])?"
_ADDR = r"(?:\[[0-9A-Fa-f:.%\w]+\]|[0-9A-Fa-f:]*:[0-9A-Fa-f:.]+|" + _HOST + r")"
# Hosts of documentation links that error messages quote; never a target.
DOC_HOSTS = (
    "curl.se", "curl.haxx.se", "readthedocs.io", "docs.python.org", "kubernetes.io",
    "docs.docker.com", "developer.mozilla.org", "postgresql.org", "redis.io", "nodejs.org",
    "go.dev", "golang.org", "stackoverflow.com", "github.com", "sqlalche.me", "mzl.la",
    "aka.ms", "docs.oracle.com", "openssl.org", "errors.pydantic.dev", "python.org", "docker.com",
)  # fmt: skip
# ``name.py:42`` in a traceback is a file and a line, not a host and a port.
_FILE_SUFFIXES = re.compile(
    r"\.(?:py|pyc|go|js|mjs|cjs|ts|java|kt|scala|rb|rs|c|h|cc|cpp|php|cs|ex|exs|lua|sh|log|"
    r"txt|json|ya?ml|toml|conf|cfg|ini|sock|jar|class|html?)$",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class NamedTarget:
    """A target an error text names.  ``port`` is None when the text gives none."""

    host: str
    port: int | None
    scheme: str  # "tcp" when the text says nothing of the protocol
    path: str = ""
    form: str = ""  # which message shape named it ("urllib3 pool", "psql", "url", ...)
    origin: str = ""  # the page's origin, when a browser's CORS message names it

    @property
    def field_text(self) -> str:
        """What to type in the target field (a URL where the scheme matters)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        port = f":{self.port}" if self.port is not None else ""
        if self.scheme == "tcp":
            return f"{host}{port}"
        return f"{self.scheme}://{host}{port}{self.path if self.scheme in _WEB else ''}"

    def target(self) -> Target | None:
        """The parsed target, or None when the port is missing or the host is not one."""
        if self.port is None and self.scheme == "tcp":
            return None
        try:
            return parse_target(self.field_text)
        except TargetError:
            return None


_WEB = frozenset({"http", "https", "ws", "wss"})


def missing_reason(named: NamedTarget | None) -> str:
    """One line saying what the text lacks to be checked ("" when nothing)."""
    if named is None:
        return "the error text names no host to check"
    if named.target() is None:
        if named.port is None:
            return f"the error text names the host {named.host} but no port"
        return f"the error text names {named.field_text}, which is not a usable target"
    return ""


Make = Callable[[re.Match[str], str], "NamedTarget | None"]


@dataclass(frozen=True, slots=True)
class _Form:
    name: str
    regex: re.Pattern[str]
    make: Make


def _url(match: re.Match[str], text: str) -> NamedTarget | None:
    return from_url(match.group("url"), "url", origin=match.groupdict().get("origin") or "")


def from_url(url: str, form: str, origin: str = "") -> NamedTarget | None:
    """A URL's parts; user info and a query holding redacted values are dropped."""
    url = url.rstrip(".,;:'\"")
    m = re.match(r"(?P<scheme>[a-z]+)://(?:[^/@\s]*@)?(?P<authority>[^/?#\s]+)(?P<rest>.*)", url)
    if m is None:
        return None
    scheme = m.group("scheme").lower()
    scheme = "postgres" if scheme == "postgresql" else scheme
    host, port = _split(m.group("authority"))
    if host is None:
        return None
    rest = m.group("rest").split("#", 1)[0]
    path, _, query = rest.partition("?")
    if query and REDACTED not in query:
        path = f"{path}?{query}"
    origin = origin.rstrip("/") if origin.startswith(("http://", "https://")) else ""
    return NamedTarget(host, port, scheme, path or "/", form, origin)


def _split(authority: str) -> tuple[str | None, int | None]:
    """``host[:port]`` / ``[v6]:port`` / Node's ``::1:5432`` → (host, port)."""
    if authority.startswith("["):
        host, _, tail = authority[1:].partition("]")
        return (host or None), _port(tail[1:]) if tail.startswith(":") else None
    if authority.count(":") > 1:  # Node prints IPv6 and port as ``::1:5432``
        host, _, port = authority.rpartition(":")
        return host, _port(port)
    host, sep, port = authority.partition(":")
    return (host or None), _port(port) if sep else None


def _port(text: str) -> int | None:
    return int(text) if text.isdigit() and 0 < int(text) < 65536 else None


def _scheme_for(port: int | None, text: str) -> str:
    """The protocol a host:port form leaves unsaid, from what the text says."""
    lowered = text.lower()
    if port in (443, 6443, 8443):
        return "https"
    if port == 5432 or "psql" in lowered or "postgres" in lowered:
        return "postgres" if port is not None else "tcp"
    if port == 6379 or "redis" in lowered:
        return "redis" if port is not None else "tcp"
    return "tcp"


def _host_port(form: str, scheme: str = "") -> Make:
    def make(match: re.Match[str], text: str) -> NamedTarget | None:
        groups = match.groupdict()
        if groups.get("addr"):
            host, port = _split(groups["addr"])
            host = groups.get("host") or host  # netty: "localhost/127.0.0.1:8080"
        else:
            host, port = groups.get("host"), _port(groups.get("port") or "")
        if not host or _FILE_SUFFIXES.search(host):
            return None
        host = host.strip("'\"").rstrip(".")
        return NamedTarget(host, port, scheme or _scheme_for(port, text), "", form)

    return make


def _pool(match: re.Match[str], text: str) -> NamedTarget | None:
    scheme = "https" if match.group("pool").upper() == "HTTPS" else "http"
    path = match.group("path") or "/"
    path, _, query = path.partition("?")
    if query and REDACTED not in query:
        path = f"{path}?{query}"
    return NamedTarget(match.group("host"), _port(match.group("port")), scheme, path, "urllib3")


def _documentation(match: re.Match[str], text: str) -> bool:
    url = match.group("url").lower()
    host = re.sub(r"^[a-z]+://(?:[^/@]*@)?", "", url).split("/", 1)[0].split(":", 1)[0]
    if any(host == d or host.endswith("." + d) for d in DOC_HOSTS) or host.startswith("docs."):
        return True
    before = text[max(0, match.start() - 24) : match.start()].lower()
    return bool(re.search(r"(?:see|details here:|visit|docs?:|documentation:?)\s*\(?$", before))


def _generic_url(match: re.Match[str], text: str) -> NamedTarget | None:
    return None if _documentation(match, text) else _url(match, text)


def _not_a_proxy(make: Make) -> Make:
    """A bare ``host:port`` right after the word proxy is the proxy, not the target."""

    def checked(match: re.Match[str], text: str) -> NamedTarget | None:
        before = text[max(0, match.start() - 40) : match.start()].lower()
        return None if "proxy" in before or "socks" in before else make(match, text)

    return checked


def _form(name: str, pattern: str, make: Make, flags: int = re.IGNORECASE) -> _Form:
    return _Form(name, re.compile(pattern, flags), make)


FORMS: tuple[_Form, ...] = (
    _form("browser cors", rf"(?:fetch|XMLHttpRequest|resource) at '(?P<url>{_URL})' from origin '(?P<origin>[^']*)'", _url),
    _form("browser cors", rf"remote resource at (?P<url>{_URL})", _url),
    _form("browser websocket", rf"WebSocket connection to '(?P<url>{_URL})'", _url),
    _form("browser websocket", rf"connection to the server at (?P<url>{_URL})", _url),
    _form("quoted url", rf"\b(?:Get|Post|Put|Patch|Delete|Head|Options|request for|url:?) \"(?P<url>{_URL})\"", _url),
    _form("urllib3", r"(?P<pool>HTTPS?)ConnectionPool\(host='(?P<host>[^']+)', port=(?P<port>\d+)\)(?:.*?with url: (?P<path>/[^\s(]*))?", _pool),
    _form("psql", rf"connection to server at \"(?P<host>{_ADDR})\"(?: \([^)]*\))?, port (?P<port>\d+)", _host_port("psql", "postgres")),
    _form("psql", rf"running on host \"(?P<host>{_ADDR})\"(?: \([^)]*\))? and accepting\s+TCP/IP connections on port (?P<port>\d+)", _host_port("psql", "postgres")),
    _form("redis", rf"Could not connect to Redis at (?P<addr>{_ADDR}:\d+)", _host_port("redis-cli", "redis")),
    _form("redis", rf"Error \d+ connecting to (?P<addr>{_ADDR}:\d+)", _host_port("redis-py", "redis")),
    _form("kubectl", rf"connection to the server (?P<addr>{_ADDR}:\d+) was refused", _host_port("kubectl")),
    _form("curl", rf"Failed to connect to (?P<host>{_ADDR}) port (?P<port>\d+)", _host_port("curl")),
    _form("curl", rf"Connected to (?P<host>{_ADDR}) \([^)]*\) port (?P<port>\d+)", _host_port("curl")),
    _form("curl", rf"Could not resolve host: (?P<host>{_HOST})", _host_port("curl")),
    _form("curl", rf"target host name '(?P<host>{_HOST})'", _host_port("curl")),
    _form("node", rf"\b(?:connect|read|write) E[A-Z]+ (?P<addr>{_ADDR}:\d+)", _host_port("node")),
    _form("node", rf"getaddrinfo E[A-Z_]+ (?P<host>{_HOST})", _host_port("node")),
    _form("go", rf"dial tcp (?P<addr>{_ADDR}:\d+):", _host_port("go")),
    _form("go", rf"lookup (?P<host>{_HOST})(?: on \S+)?: ", _host_port("go")),
    _form("java", rf"UnknownHostException: (?P<host>{_HOST})", _host_port("java")),
    _form("java", rf"Connection refused: (?:(?P<host>{_HOST})/)?(?P<addr>{_ADDR}:\d+)", _host_port("netty")),
    _form("java", rf"Connect to (?P<addr>{_ADDR}:\d+) \[", _host_port("apache httpclient")),
    _form("aiohttp", rf"Cannot connect to host (?P<addr>{_ADDR}:\d+)", _host_port("aiohttp")),
    _form("asyncio", r"Connect call failed \('(?P<host>[^']+)', (?P<port>\d+)", _host_port("asyncio")),
    _form("url", rf"(?P<url>{_URL})", _generic_url),
    _form("host:port", rf"(?<![\w/.@:\\-])(?P<addr>\[[0-9A-Fa-f:.]+\]:\d{{1,5}}|{_HOST}:\d{{1,5}})(?![\w:/-]|\.\w)", _not_a_proxy(_host_port("host:port"))),
)  # fmt: skip


def name_target(text: str) -> NamedTarget | None:
    """The target *text* names, from its most specific form (last occurrence of
    that form: a traceback ends with the call that failed)."""
    for form in FORMS:
        for match in reversed(list(form.regex.finditer(text))):
            named = form.make(match, text)
            if named is not None and _plausible(named.host):
                return named
    return None


def _plausible(host: str) -> bool:
    """A host, not a time (``12:30``), a version (``1.2``) or a number."""
    if not host or (host.replace(".", "").isdigit() and host.count(".") != 3):
        return False
    return not re.fullmatch(r"\d+", host)
