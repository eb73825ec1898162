"""TLS inspector: what ``openssl s_client -showcerts`` tells an engineer, classified.

One verifying handshake with the system trust store (``SSL_CERT_FILE`` and
``--ca-file`` included).  Whatever happens, the chain the server actually sent
is captured (a second, non-verifying handshake when verification fails) and
parsed.  Handshake failures are told apart by the alerts and handshake
messages seen on the wire (``SSLContext._msg_callback``), then confirmed by
probing again: with every protocol version to find the ones the server does
accept, with a permissive cipher list to confirm a cipher mismatch, and with a
plain connection to name the protocol on a port that does not speak TLS.

STARTTLS is spoken first for PostgreSQL (SSLRequest) and SMTP; ``rediss://``
is direct TLS.  Revocation (OCSP/CRL) is not checked.

The handshakes are blocking socket calls on a daemon thread, each bounded by
what is left of the probe's deadline.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import struct
import time
import warnings
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from probes.core.context import ProbeContext, run_in_daemon_thread
from probes.core.model import ProbeError, ProbeResult, Status
from probes.core.sanitize import clean_bytes, clean_text
from probes.core.target import Target
from probes.proto.certs import CertInfo, parse_der
from probes.proto.proxy import ProxyChoice
from probes.wire.banner import identify

TLS_PORTS = frozenset({443, 465, 636, 853, 993, 995, 2376, 4443, 5986, 6443, 8443, 9443})
STARTTLS_SCHEMES = {"postgres": "postgres", "postgresql": "postgres", "smtp": "smtp"}
PG_SSLMODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
VERSIONS = ("TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3")
_VERSION_ENUM = {
    "TLSv1": ssl.TLSVersion.TLSv1,
    "TLSv1.1": ssl.TLSVersion.TLSv1_1,
    "TLSv1.2": ssl.TLSVersion.TLSv1_2,
    "TLSv1.3": ssl.TLSVersion.TLSv1_3,
}
_CERT_REQUEST = 13
_NOT_TLS_REASONS = (
    "WRONG_VERSION_NUMBER",
    "HTTP_REQUEST",
    "PACKET_LENGTH_TOO_LONG",
    "RECORD_LAYER",
)
_VERSION_REASONS = ("PROTOCOL_VERSION", "UNSUPPORTED_PROTOCOL", "NO_PROTOCOLS_AVAILABLE")
_CIPHER_REASONS = ("HANDSHAKE_FAILURE", "NO_SHARED_CIPHER", "NO_CIPHERS_AVAILABLE", "INSUFFICIENT")
_CLIENT_CERT_REASONS = ("CERTIFICATE_REQUIRED", "BAD_CERTIFICATE", "PEER_DID_NOT_RETURN")

# Outcome states of the probe (``TlsData.failure`` holds the finding id).
OK, FAILED, TIMEOUT, UNREACHABLE = "ok", "failed", "timeout", "unreachable"
STATES = (OK, FAILED, TIMEOUT, UNREACHABLE)
# The certificate problems that one chain can have at once.
CERT_PROBLEMS = (
    "tls.hostname_mismatch",
    "tls.expired",
    "tls.not_yet_valid",
    "tls.self_signed",
    "tls.untrusted_root",
    "tls.incomplete_chain",
    "proxy.tls_intercepted",
)
# How long a handshake may stay silent before a plain look at the port (is it
# HTTP or another plaintext protocol?) runs beside it.
SNIFF_AFTER_S = 0.5
DIRECT_LOOK_S = 2.0  # through a proxy: how long the direct look at the certificate may take
Connector = Callable[[float], socket.socket]  # deadline → a connected socket (a proxy tunnel)


@dataclass(frozen=True, slots=True)
class TlsData:
    address: str
    port: int
    server_name: str  # SNI sent ("" for an IP literal)
    starttls: str  # "", "postgres" or "smtp"
    state: str  # ok | failed | timeout | unreachable
    failure: str = ""  # the finding id that explains a failure (tls.expired...)
    detail: str = ""  # one line: the library's error, sanitised
    verify_code: int = 0
    verify_message: str = ""
    protocol: str = ""
    cipher: str = ""
    alpn: str = ""
    chain: tuple[CertInfo, ...] = ()  # as the server sent it, leaf first
    verified: bool = False
    client_cert_requested: bool = False
    alerts: tuple[str, ...] = ()  # alerts received from the server
    accepted_versions: tuple[str, ...] = ()  # filled in when the versions were probed
    offered_versions: tuple[str, ...] = ()  # what this client offered
    permissive_cipher: str = ""  # cipher agreed only with a permissive cipher list
    peer_protocol: str = ""  # what a non-TLS port speaks (from its banner)
    peer_banner: str = ""
    handshake_s: float = 0.0
    trust_store: str = "system"
    revocation_checked: bool = False
    # Every problem of the chain (finding ids, the handshake's own failure first):
    # OpenSSL stops at the first, the chain read without verification shows the rest.
    problems: tuple[str, ...] = ()
    proxy: str = ""  # the handshake went through this proxy's CONNECT (no credentials)
    direct_leaf: CertInfo | None = None  # the leaf seen without the proxy, when it differs
    intercepted: bool = False  # through the proxy, another issuer signs the certificate
    sslmode: str = ""  # postgres: the URL's sslmode ("" = not given; libpq's default is prefer)
    # The local address:port of each direct connection the handshakes opened: a
    # server's socket toward one of them is this run's own.
    sources: tuple[str, ...] = ()

    @property
    def own_sources(self) -> tuple[str, ...]:
        return self.sources

    @property
    def leaf(self) -> CertInfo | None:
        return self.chain[0] if self.chain else None


@dataclass
class _Outcome:
    """One handshake attempt (internal, mutable while it runs)."""

    ok: bool = False
    exc: BaseException | None = None
    stage: str = ""  # connect | starttls | handshake | read
    protocol: str = ""
    cipher: str = ""
    alpn: str = ""
    chain: list[bytes] = field(default_factory=list)
    cert_request: bool = False
    alerts: list[str] = field(default_factory=list)
    starttls_refused: str = ""
    starttls_reply: bytes = b""
    elapsed: float = 0.0


def applies(ctx: ProbeContext) -> str | None:
    """None when TLS applies to the target, else the reason to skip."""
    t = ctx.target
    if pg_sslmode(t) == "disable":
        return "sslmode=disable: the client does not use TLS with this server"
    if t.tls or t.scheme in STARTTLS_SCHEMES:
        return None
    if t.scheme == "tcp" and (
        t.port in TLS_PORTS or ctx.symptom == "tls" or ctx.heard_protocol.startswith("TLS")
    ):
        return None
    return (
        f"{t.scheme}://{t.host_port} is not a TLS target "
        "(use https://, tls://, rediss://, postgres:// or --symptom tls)"
    )


async def probe_tls(ctx: ProbeContext) -> AsyncIterator[ProbeResult]:
    from dataclasses import replace

    from probes.proto.proxy import proxy_env, proxy_for

    started = time.monotonic()
    reason = applies(ctx)
    if reason is not None:
        yield ProbeResult("tls", Status.SKIPPED, 0.0, reason)
        return
    deadline = started + ctx.config.timeout
    proxy = proxy_for(ctx.target, proxy_env(ctx))
    if proxy is not None and proxy.scheme == "http":
        # Clients reach the site through the proxy: so does the handshake.
        data = await _through_proxy(ctx, proxy, deadline)
    else:
        resolution = await ctx.resolution()
        if not resolution.addresses:
            yield ProbeResult(
                "tls",
                Status.SKIPPED,
                time.monotonic() - started,
                "no address (name did not resolve)",
            )
            return
        found: TlsData | None = None
        for address in resolution.addresses:  # the first address that accepts a connection
            found = await _inspect_or_sniff(ctx, address, deadline)
            if found.state != UNREACHABLE or time.monotonic() >= deadline:
                break
        assert found is not None
        data = found
    if data.failure == "tls.not_tls" and not data.peer_protocol and not data.proxy:
        data = await _name_peer(data, ctx, deadline)
    data = replace(data, sslmode=pg_sslmode(ctx.target))
    elapsed = time.monotonic() - started
    guessed = ctx.target.scheme == "tcp" and ctx.symptom != "tls"
    if guessed and data.failure == "tls.not_tls":
        # TLS was only guessed from the port number: plaintext there is no fault.
        spoken = f"it speaks {data.peer_protocol}" if data.peer_protocol else data.detail
        yield ProbeResult(
            "tls", Status.SKIPPED, elapsed, f"port {ctx.target.port} does not speak TLS ({spoken})"
        )
        return
    yield _result(data, elapsed)


def pg_sslmode(target: Target) -> str:
    """The ``sslmode`` of a PostgreSQL URL ("" when not given or not PostgreSQL)."""
    from urllib.parse import parse_qsl

    if STARTTLS_SCHEMES.get(target.scheme) != "postgres":
        return ""
    query = target.path.partition("?")[2]
    modes = [v.lower() for k, v in parse_qsl(query) if k.lower() == "sslmode"]
    return modes[-1] if modes and modes[-1] in PG_SSLMODES else ""


async def _inspect_or_sniff(ctx: ProbeContext, address: str, deadline: float) -> TlsData:
    """The handshake; if it stays silent, a plain look at the port runs beside it, and a
    port that answers HTTP (or any plaintext protocol) is not TLS at once."""
    import asyncio

    from probes.proto.httpraw import raw_response

    holder: list[socket.socket] = []
    sources: list[str] = []
    task = asyncio.ensure_future(
        run_in_daemon_thread(
            lambda: inspect(ctx, address, deadline, holder=holder, sources=sources)
        )
    )
    if STARTTLS_SCHEMES.get(ctx.target.scheme):
        return _with_sources(await task, sources)
    done, _ = await asyncio.wait({task}, timeout=SNIFF_AFTER_S)
    if done:
        return _with_sources(task.result(), sources)
    left = max(0.1, deadline - time.monotonic())
    raw = await raw_response(
        address, ctx.target.port, "/", False, ctx.target.sni or ctx.target.host, min(2.0, left)
    )
    protocol = identify(raw) or ("" if not raw else "an unknown plaintext protocol")
    if task.done() or not raw or protocol.startswith("TLS"):
        return _with_sources(await task, sources)
    for sock in holder:  # abandon the handshake: the port is not TLS
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
    task.cancel()
    return TlsData(
        address=address,
        port=ctx.target.port,
        server_name=ctx.target.sni or "",
        starttls="",
        state=FAILED,
        failure="tls.not_tls",
        detail=f"no answer to the ClientHello; a plain request is answered in {protocol}",
        peer_protocol=protocol,
        peer_banner=clean_bytes(raw, 120),
        sources=tuple(sources),
    )


def _with_sources(data: TlsData, sources: list[str]) -> TlsData:
    from dataclasses import replace

    return replace(data, sources=(*data.sources, *(s for s in sources if s)))


async def _through_proxy(ctx: ProbeContext, proxy: ProxyChoice, deadline: float) -> TlsData:
    """The handshake inside a CONNECT tunnel, then (when the direct path works) the
    certificate seen directly: another issuer through the proxy is interception."""
    from dataclasses import replace

    from probes.proto.tunnel import open_tunnel

    authority = ctx.target.host_port

    def connector(limit: float) -> socket.socket:
        return open_tunnel(proxy, authority, limit)

    data = await run_in_daemon_thread(
        lambda: inspect(ctx, proxy.shown, deadline, connector=connector)
    )
    data = replace(data, address=f"{authority} via proxy {proxy.shown}", proxy=proxy.shown)
    if not data.chain:
        return data
    resolution = await ctx.resolution()
    if not resolution.addresses or time.monotonic() >= deadline:
        return data
    # The direct path is often firewalled where a proxy is used: do not wait long.
    direct_deadline = min(deadline, time.monotonic() + DIRECT_LOOK_S)
    direct = await run_in_daemon_thread(
        lambda: handshake(
            resolution.addresses[0],
            ctx.target.port,
            ctx.target.host,
            _plain_context(),
            direct_deadline,
            STARTTLS_SCHEMES.get(ctx.target.scheme, ""),
        )
    )
    direct_chain = _parse_chain(direct.chain) if direct.ok else ()
    return compare_direct(data, direct_chain[0] if direct_chain else None)


def compare_direct(data: TlsData, direct: CertInfo | None) -> TlsData:
    """Mark interception: the leaf through the proxy has another issuer than the direct one."""
    from dataclasses import replace

    leaf = data.leaf
    if leaf is None or direct is None or leaf.issuer == direct.issuer:
        return data
    data = replace(data, direct_leaf=direct, intercepted=True)
    if data.verified:
        return data  # this host trusts the interceptor's CA: a warning (tls_rules)
    problems = (
        "proxy.tls_intercepted",
        *(p for p in data.problems if p != "proxy.tls_intercepted"),
    )
    return replace(data, failure="proxy.tls_intercepted", problems=problems)


def _result(data: TlsData, elapsed: float) -> ProbeResult:
    where = f"{data.address}:{data.port}"
    if data.state == OK and not data.failure:
        leaf = data.leaf
        who = f"; {leaf.common_name or leaf.subject}, {leaf.days_left} days left" if leaf else ""
        summary = f"{where} {data.protocol} {data.cipher}, verified{who}"
        return ProbeResult("tls", Status.OK, elapsed, summary, data)
    summary = f"{where}: {data.failure or data.state}: {data.detail}"
    err = ProbeError(
        (data.failure or data.state).upper().replace(".", "_"), data.detail, elapsed_s=elapsed
    )
    return ProbeResult("tls", Status.FAILED, elapsed, summary, data, err)


async def _name_peer(data: TlsData, ctx: ProbeContext, deadline: float) -> TlsData:
    from dataclasses import replace

    from probes.wire.connect import connect_once

    wait = min(ctx.config.banner_wait, max(0.05, (deadline - time.monotonic()) / 3))
    budget = max(0.1, deadline - time.monotonic() - 2 * wait)
    attempt = await connect_once(data.address, data.port, budget, wait)
    data = _with_sources(data, [attempt.source])
    if attempt.protocol or attempt.banner:
        return replace(data, peer_protocol=attempt.protocol, peer_banner=attempt.banner)
    return data


# --- the blocking part ---------------------------------------------------------------


def verify_context(ca_file: str | None) -> ssl.SSLContext:
    ctx = ssl.create_default_context()  # system store; honours SSL_CERT_FILE / SSL_CERT_DIR
    if ca_file:
        ctx.load_verify_locations(cafile=ca_file)
    return ctx


def _plain_context(permissive: bool = False) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if permissive:
        with contextlib.suppress(ssl.SSLError, ValueError):
            ctx.set_ciphers("ALL:@SECLEVEL=0")
        with contextlib.suppress(ValueError):
            ctx.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
    return ctx


def inspect(
    ctx: ProbeContext,
    address: str,
    deadline: float,
    connector: Connector | None = None,
    holder: list[socket.socket] | None = None,
    sources: list[str] | None = None,
) -> TlsData:
    """Handshake, capture, classify.  Never raises for network failures.  *sources*
    receives the local address:port of each direct connection."""
    target = ctx.target
    starttls = STARTTLS_SCHEMES.get(target.scheme, "")
    alpn = ["h2", "http/1.1"] if target.scheme in ("https", "wss", "tls", "tcp") else []
    server_name = target.host
    base: dict[str, Any] = {
        "address": address,
        "port": target.port,
        "server_name": target.sni or "",
        "starttls": starttls,
        "trust_store": f"system + {ctx.config.ca_file}" if ctx.config.ca_file else "system",
    }
    try:
        vctx = verify_context(ctx.config.ca_file)
    except (OSError, ssl.SSLError) as exc:
        return TlsData(
            **base, state=FAILED, failure="tls.handshake_failed", detail=f"CA file: {exc}"
        )
    min_version = ctx.config.tls_min_version
    if min_version in _VERSION_ENUM:
        vctx.minimum_version = _VERSION_ENUM[min_version]
    offered = tuple(v for v in VERSIONS if _offers(vctx, v))
    base["offered_versions"] = offered
    if alpn:
        vctx.set_alpn_protocols(alpn)

    def shake(context: ssl.SSLContext, read_check: bool = False) -> _Outcome:
        return handshake(
            address,
            target.port,
            server_name,
            context,
            deadline,
            starttls,
            read_check,
            connector,
            holder,
            sources,
        )

    first = shake(vctx, read_check=True)
    base["handshake_s"] = first.elapsed
    base["client_cert_requested"] = first.cert_request
    base["alerts"] = tuple(first.alerts)
    if first.stage == "connect":
        from probes.proto.tunnel import TunnelError

        if isinstance(first.exc, TunnelError):
            return TlsData(**base, state=FAILED, failure=first.exc.finding, detail=first.exc.detail)
        return TlsData(**base, state=UNREACHABLE, detail=_describe(first.exc))
    if first.starttls_refused:
        return TlsData(
            **base,
            state=FAILED,
            failure="tls.starttls_refused",
            detail=first.starttls_refused,
            peer_protocol=identify(first.starttls_reply) or "",
            peer_banner=clean_bytes(first.starttls_reply, 120),
        )
    if first.stage == "starttls" and isinstance(first.exc, ConnectionError):
        return TlsData(
            **base,
            state=FAILED,
            failure="tls.starttls_refused",
            detail=f"the server hung up on the {starttls} STARTTLS request: {_describe(first.exc)}",
        )
    if isinstance(first.exc, TimeoutError | socket.timeout) and first.stage in (
        "handshake",
        "starttls",
    ):
        return TlsData(
            **base,
            state=TIMEOUT,
            failure="tls.handshake_timeout",
            detail=f"no answer to the TLS {'STARTTLS' if first.stage == 'starttls' else 'ClientHello'} before the deadline",
        )
    if first.ok:
        chain = _parse_chain(first.chain)
        return TlsData(
            **base,
            state=OK,
            protocol=first.protocol,
            cipher=first.cipher,
            alpn=first.alpn,
            chain=chain,
            verified=True,
        )
    err = first.exc
    if first.stage == "read":
        # TLS 1.3: the handshake "succeeded"; the server's verdict on our (missing)
        # client certificate arrives with the first read.
        chain = _parse_chain(first.chain)
        failure = (
            "tls.client_cert_required" if _client_cert_failure(first) else "tls.handshake_failed"
        )
        return TlsData(
            **base,
            state=FAILED,
            failure=failure,
            detail=_describe(err),
            protocol=first.protocol,
            cipher=first.cipher,
            chain=chain,
            verified=True,
        )
    if isinstance(err, ssl.SSLCertVerificationError):
        second = shake(_plain_context())
        chain = _parse_chain(second.chain)
        code = int(err.verify_code or 0)
        message = clean_text(str(err.verify_message or ""), 160)
        failure = classify_verify(code, chain, target.host)
        return TlsData(
            **base,
            state=FAILED,
            failure=failure,
            problems=chain_problems(failure, chain, target.host),
            detail=message,
            verify_code=code,
            verify_message=message,
            protocol=second.protocol,
            cipher=second.cipher,
            alpn=second.alpn,
            chain=chain,
        )
    reason = _reason(err)
    detail = _describe(err)
    if _client_cert_failure(first):
        return TlsData(**base, state=FAILED, failure="tls.client_cert_required", detail=detail)
    if any(r in reason for r in _NOT_TLS_REASONS):
        return TlsData(**base, state=FAILED, failure="tls.not_tls", detail=detail)
    if any(r in reason for r in _VERSION_REASONS):
        accepted = probe_versions(
            address, target.port, server_name, deadline, starttls, connector, sources
        )
        return TlsData(
            **base,
            state=FAILED,
            failure="tls.protocol_mismatch",
            detail=detail,
            accepted_versions=accepted,
        )
    if any(r in reason for r in _CIPHER_REASONS):
        loose = shake(_plain_context(True))
        if loose.ok:
            failure = "tls.no_shared_cipher"
            if loose.protocol and loose.protocol not in offered:
                failure = "tls.protocol_mismatch"
            return TlsData(
                **base,
                state=FAILED,
                failure=failure,
                detail=detail,
                permissive_cipher=loose.cipher,
                accepted_versions=(loose.protocol,) if loose.protocol else (),
            )
    if isinstance(err, ssl.SSLEOFError | ConnectionResetError | ssl.SSLZeroReturnError):
        # Closed mid-handshake: a plaintext server hanging up on binary input, or a
        # TLS server rejecting us without an alert.  The banner sniff decides.
        return TlsData(**base, state=FAILED, failure="tls.not_tls", detail=detail)
    return TlsData(**base, state=FAILED, failure="tls.handshake_failed", detail=detail)


def _offers(ctx: ssl.SSLContext, version: str) -> bool:
    order = list(_VERSION_ENUM)
    v = order.index(version)
    low = ctx.minimum_version
    high = ctx.maximum_version
    lo_i = 0 if low == ssl.TLSVersion.MINIMUM_SUPPORTED else _index(low, order)
    hi_i = len(order) - 1 if high == ssl.TLSVersion.MAXIMUM_SUPPORTED else _index(high, order)
    return lo_i <= v <= hi_i


def _index(version: ssl.TLSVersion, order: list[str]) -> int:
    for i, name in enumerate(order):
        if _VERSION_ENUM[name] == version:
            return i
    return 0


def _client_cert_failure(outcome: _Outcome) -> bool:
    reason = _reason(outcome.exc)
    if any(r in reason for r in _CLIENT_CERT_REASONS):
        return True
    return outcome.cert_request and any(r in reason for r in ("HANDSHAKE_FAILURE", "ALERT"))


def chain_problems(failure: str, chain: tuple[CertInfo, ...], host: str) -> tuple[str, ...]:
    """Every problem of *chain* for *host*, *failure* (what OpenSSL stopped at) first.

    OpenSSL checks trust first, then validity dates, then the name, and reports
    only the first failure: a self-signed certificate hides that it is also
    expired and issued for another name.  The dates and names are read here.
    """
    import datetime as dt

    from probes.proto.certs import hostname_matches, wildcard_match

    problems = [failure] if failure else []
    leaf = chain[0] if chain else None
    if leaf is None:
        return tuple(problems)
    now = dt.datetime.now(dt.UTC)
    if dt.datetime.fromisoformat(leaf.not_after) < now:
        problems.append("tls.expired")
    if dt.datetime.fromisoformat(leaf.not_before) > now:
        problems.append("tls.not_yet_valid")
    named = hostname_matches(host, leaf) or (
        not leaf.has_san and wildcard_match(leaf.common_name.lower(), host.lower())
    )
    if not named:
        problems.append("tls.hostname_mismatch")
    return tuple(dict.fromkeys(problems))


def classify_verify(code: int, chain: tuple[CertInfo, ...], host: str) -> str:
    """The finding id for an OpenSSL verification error code."""
    from probes.proto.certs import interceptor_name

    if code == 10:
        return "tls.expired"
    if code == 9:
        return "tls.not_yet_valid"
    if code in (62, 63, 64):  # host, email, IP address mismatch
        return "tls.hostname_mismatch"
    top = chain[-1] if chain else None
    if code == 18:  # self-signed leaf
        if top and interceptor_name(top.issuer):
            return "proxy.tls_intercepted"
        return "tls.self_signed"
    if code in (19, 20, 21, 2):
        if top and interceptor_name(top.issuer):
            return "proxy.tls_intercepted"
        if code == 19:
            return "tls.untrusted_root"
        # The issuer of the last certificate sent is unknown here.  A leaf sent
        # alone (not self-issued) most often means the intermediate is missing;
        # a chain ending in a CA certificate points at an unknown root.
        if top is not None and not top.is_ca and len(chain) == 1:
            return "tls.incomplete_chain"
        return "tls.untrusted_root"
    return "tls.untrusted_root"


def probe_versions(
    address: str,
    port: int,
    server_name: str,
    deadline: float,
    starttls: str,
    connector: Connector | None = None,
    sources: list[str] | None = None,
) -> tuple[str, ...]:
    accepted: list[str] = []
    for version in VERSIONS:
        if deadline - time.monotonic() < 0.2:
            break
        ctx = _plain_context(True)
        try:
            with warnings.catch_warnings():  # TLS 1.0/1.1 are deprecated: probing them is the point
                warnings.simplefilter("ignore", DeprecationWarning)
                ctx.minimum_version = _VERSION_ENUM[version]
                ctx.maximum_version = _VERSION_ENUM[version]
        except (ValueError, ssl.SSLError):
            continue
        outcome = handshake(
            address,
            port,
            server_name,
            ctx,
            deadline,
            starttls,
            connector=connector,
            sources=sources,
        )
        if outcome.ok:
            accepted.append(version)
    return tuple(accepted)


def handshake(
    address: str,
    port: int,
    server_name: str,
    ctx: ssl.SSLContext,
    deadline: float,
    starttls: str = "",
    read_check: bool = False,
    connector: Connector | None = None,
    holder: list[socket.socket] | None = None,
    sources: list[str] | None = None,
) -> _Outcome:
    """One handshake; *connector* opens the connection (a proxy tunnel) instead of
    a direct connect, *holder* receives the socket so another thread can abort it, and
    *sources* the direct connection's local address:port."""
    out = _Outcome()

    def on_message(
        conn: Any, direction: str, version: Any, content_type: Any, msg_type: Any, data: bytes
    ) -> None:
        if direction != "read":
            return
        if int(content_type) == 22 and int(msg_type) == _CERT_REQUEST:
            out.cert_request = True
        elif int(content_type) == 21 and len(data) >= 2:
            out.alerts.append(_alert_name(data[1]))

    with contextlib.suppress(AttributeError, NotImplementedError):
        ctx._msg_callback = on_message  # type: ignore[attr-defined]
    started = time.monotonic()
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    out.stage = "connect"
    try:
        raw = connector(deadline) if connector else socket.socket(family, socket.SOCK_STREAM)
    except OSError as exc:
        out.exc = exc
        return out
    if holder is not None:
        holder.append(raw)
    with contextlib.closing(raw):
        try:
            raw.settimeout(_left(deadline))
            if connector is None:
                raw.connect((address, port))
                if sources is not None:
                    sources.append(_local_end(raw))
            if starttls:
                out.stage = "starttls"
                raw.settimeout(_left(deadline))
                if not _starttls(raw, starttls, out):
                    return out
            out.stage = "handshake"
            raw.settimeout(_left(deadline))
            sni = server_name or None
            with ctx.wrap_socket(raw, server_hostname=sni, do_handshake_on_connect=False) as tls:
                tls.settimeout(_left(deadline))
                tls.do_handshake()
                out.elapsed = time.monotonic() - started
                out.protocol = tls.version() or ""
                cipher = tls.cipher()
                out.cipher = cipher[0] if cipher else ""
                out.alpn = tls.selected_alpn_protocol() or ""
                out.chain = _chain_der(tls)
                if read_check and (out.cert_request or not hasattr(ctx, "_msg_callback")):
                    out.stage = "read"
                    tls.settimeout(min(1.0, _left(deadline)))
                    try:
                        tls.recv(1)
                    except TimeoutError:
                        pass
                out.ok = True
        except (OSError, ValueError) as exc:
            out.exc = exc
            out.ok = False
            out.elapsed = time.monotonic() - started
    return out


def _starttls(raw: socket.socket, kind: str, out: _Outcome) -> bool:
    if kind == "postgres":
        raw.sendall(struct.pack("!II", 8, 80877103))
        answer = raw.recv(1)
        if answer in (b"S", b"N") and _more_waiting(raw):
            answer += raw.recv(200)  # PostgreSQL says one byte and waits: "SSH-2.0-..." is not it
        if answer == b"S":
            return True
        if answer == b"N":
            out.starttls_refused = "the PostgreSQL server answered 'N' to SSLRequest: it has SSL off (ssl = off in postgresql.conf)"
        else:
            more = b""
            with contextlib.suppress(OSError):
                raw.settimeout(0.3)
                more = raw.recv(200)
            out.starttls_reply = answer + more
            proto = identify(answer + more)
            out.starttls_refused = (
                f"not a PostgreSQL server: it answered SSLRequest with {clean_bytes(answer + more, 60)!r}"
                + (f" ({proto})" if proto else "")
            )
        return False
    if kind == "smtp":
        greeting = _smtp_reply(raw)
        if not greeting.startswith(b"220"):
            out.starttls_reply = greeting
            out.starttls_refused = (
                f"no SMTP greeting; the server said {clean_bytes(greeting, 80)!r}"
            )
            return False
        raw.sendall(b"EHLO netmedic.invalid\r\n")
        ehlo = _smtp_reply(raw)
        if b"STARTTLS" not in ehlo.upper():
            out.starttls_reply = ehlo
            out.starttls_refused = "the SMTP server does not offer STARTTLS in its EHLO reply"
            return False
        raw.sendall(b"STARTTLS\r\n")
        reply = _smtp_reply(raw)
        if not reply.startswith(b"220"):
            out.starttls_reply = reply
            out.starttls_refused = f"the SMTP server refused STARTTLS: {clean_bytes(reply, 80)!r}"
            return False
    return True


def _more_waiting(raw: socket.socket) -> bool:
    """Bytes already received beyond what was read (a peek: nothing is consumed, and
    nothing waited for: a socket with a timeout would poll for it first)."""
    timeout = raw.gettimeout()
    raw.setblocking(False)
    try:
        return bool(raw.recv(1, socket.MSG_PEEK))
    except OSError:  # BlockingIOError: nothing more
        return False
    finally:
        raw.settimeout(timeout)


def _smtp_reply(raw: socket.socket) -> bytes:
    """Read one (possibly multi-line) SMTP reply."""
    buf = b""
    while len(buf) < 8192:
        chunk = raw.recv(1024)
        if not chunk:
            break
        buf += chunk
        lines = buf.split(b"\r\n")
        complete = [ln for ln in lines[:-1] if ln]
        if complete and len(complete[-1]) >= 4 and complete[-1][3:4] == b" ":
            break
        if complete and not complete[0][:3].isdigit():
            break  # not an SMTP reply (an SSH banner...): no more is coming that is
    return buf


def _chain_der(tls: ssl.SSLSocket) -> list[bytes]:
    sslobj = getattr(tls, "_sslobj", None)
    getter = getattr(sslobj, "get_unverified_chain", None)
    if getter is not None:
        try:
            certs = getter() or []
            return [c.public_bytes(ssl._ssl.ENCODING_DER) for c in certs]  # type: ignore[attr-defined]
        except (ssl.SSLError, ValueError, AttributeError):
            pass
    leaf = tls.getpeercert(binary_form=True)
    return [leaf] if leaf else []


def _parse_chain(ders: list[bytes]) -> tuple[CertInfo, ...]:
    infos = (parse_der(d) for d in ders[:10])
    return tuple(i for i in infos if i is not None)


def _local_end(sock: socket.socket) -> str:
    from probes.core.target import endpoint

    try:
        host, port = sock.getsockname()[:2]
    except OSError:
        return ""
    return endpoint(host, port)


def _left(deadline: float) -> float:
    return max(0.05, deadline - time.monotonic())


def _reason(exc: BaseException | None) -> str:
    if exc is None:
        return ""
    reason = getattr(exc, "reason", None)
    text = f"{reason or ''} {exc}"
    return text.upper().replace(" ", "_")


def _describe(exc: BaseException | None) -> str:
    if exc is None:
        return ""
    if isinstance(exc, TimeoutError | socket.timeout):
        return "timed out"
    if isinstance(exc, ssl.SSLError) and exc.reason:
        return clean_text(f"{exc.reason} ({exc.library or 'SSL'})", 160)
    if isinstance(exc, OSError) and exc.errno:
        import errno

        return clean_text(f"{errno.errorcode.get(exc.errno, exc.errno)}: {exc.strerror}", 160)
    return clean_text(str(exc) or type(exc).__name__, 160)


_ALERTS = {
    0: "close_notify",
    10: "unexpected_message",
    20: "bad_record_mac",
    40: "handshake_failure",
    42: "bad_certificate",
    43: "unsupported_certificate",
    44: "certificate_revoked",
    45: "certificate_expired",
    46: "certificate_unknown",
    47: "illegal_parameter",
    48: "unknown_ca",
    50: "decode_error",
    51: "decrypt_error",
    70: "protocol_version",
    71: "insufficient_security",
    80: "internal_error",
    86: "inappropriate_fallback",
    90: "user_canceled",
    109: "missing_extension",
    110: "unsupported_extension",
    112: "unrecognized_name",
    116: "certificate_required",
    120: "no_application_protocol",
}


def _alert_name(code: int) -> str:
    return _ALERTS.get(code, f"alert {code}")
