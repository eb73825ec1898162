"""TLS rules: one finding per handshake failure class, plus certificate warnings."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import replace

from probes.core.model import Finding, NextStep, Severity
from probes.diagnosis.evidence import Evidence, ms, q
from probes.net.tcp import TcpData, hung_up
from probes.proto.certs import CertInfo, hostname_matches, interceptor_name
from probes.proto.tls import CERT_PROBLEMS, OK, UNREACHABLE, TlsData

EXPIRY_WARNING_DAYS = 30
REVOCATION_NOTE = "revocation (OCSP/CRL) was not checked"
_FLAGS = {"TLSv1": "-tls1", "TLSv1.1": "-tls1_1", "TLSv1.2": "-tls1_2", "TLSv1.3": "-tls1_3"}


def _cert_line(i: int, c: CertInfo) -> str:
    sans = ", ".join(c.sans[:8]) + (" …" if len(c.sans) > 8 else "") if c.sans else "no SAN"
    ca = " CA" if c.is_ca else ""
    return (
        f"#{i}{ca} subject {c.subject}; issuer {c.issuer}; {sans}; "
        f"valid {c.not_before[:10]} → {c.not_after[:10]} ({c.days_left} days left); "
        f"{c.public_key}, {c.signature_algorithm}; SHA-256 {c.sha256[:23]}…"
    )


def _chain_lines(data: TlsData) -> list[str]:
    lines = [f"{data.address}:{data.port}" + _session(data)]
    if data.chain:
        lines.append(f"the server sent {len(data.chain)} certificate(s):")
        lines += [_cert_line(i, c) for i, c in enumerate(data.chain)]
    lines.append(f"trust store: {data.trust_store}; {REVOCATION_NOTE}")
    return lines


def _session(data: TlsData) -> str:
    parts = []
    if data.starttls:
        parts.append(f"STARTTLS ({data.starttls})")
    if data.protocol:
        parts.append(f"{data.protocol} {data.cipher}".strip())
    if data.alpn:
        parts.append(f"ALPN {data.alpn}")
    if data.server_name:
        parts.append(f"SNI {data.server_name}")
    if data.alerts:
        parts.append(f"alerts received: {', '.join(data.alerts)}")
    return (": " + "; ".join(parts)) if parts else ""


def _s_client(ev: Evidence, data: TlsData, extra: str = "") -> str:
    target = ev.target
    cmd = f"openssl s_client -connect {q(target.host_port)}"
    if data.server_name:
        cmd += f" -servername {q(data.server_name)}"
    if data.starttls:
        cmd += f" -starttls {q(data.starttls)}"
    return f"{cmd}{extra} -showcerts </dev/null"


def _age(days: float) -> str:
    if abs(days) >= 2:
        return f"{abs(days):.0f} days"
    return f"{abs(days) * 24:.1f} hours"


def _failure(ev: Evidence, data: TlsData, fid: str, chain: list[str]) -> Finding:
    """The finding for one failure class *fid* of the TLS probe."""
    host = ev.target.host
    leaf = data.leaf
    s_client = NextStep("See what the server sends", _s_client(ev, data))
    if fid == "tls.expired" and leaf is not None:
        return Finding(
            fid,
            Severity.ERROR,
            f"the certificate for {host} expired {_age(-leaf.days_left)} ago ({leaf.not_after[:10]})",
            (f"not after {leaf.not_after} (UTC)", *chain),
            (
                NextStep(f"Renew the certificate on {host} and reload the server"),
                NextStep(
                    "If it was renewed, the server still serves the old one: check the configured path and reload",
                    _s_client(ev, data).replace(" -showcerts", "")
                    + " | openssl x509 -noout -dates",
                ),
                NextStep("Check that this host's clock is right", "timedatectl status"),
            ),
        )
    elif fid == "tls.not_yet_valid" and leaf is not None:
        start = dt.datetime.fromisoformat(leaf.not_before)
        ahead = (start - dt.datetime.now(dt.UTC)).total_seconds() / 86400
        return Finding(
            fid,
            Severity.ERROR,
            f"the certificate for {host} is not valid until {leaf.not_before[:16]} UTC",
            (
                f"not before {leaf.not_before} (UTC): {_age(ahead)} from now by this host's clock",
                f"either this host's clock is at least {_age(ahead)} behind, or the certificate was issued with a future start date",
                *chain,
            ),
            (
                NextStep("Check this host's clock and its time sync", "timedatectl status"),
                NextStep("Check NTP sources", "chronyc tracking"),
                NextStep(
                    "If the clock is right, reissue the certificate with a correct start date"
                ),
                s_client,
            ),
        )
    elif fid == "tls.hostname_mismatch" and leaf is not None:
        names = ", ".join(leaf.sans[:20]) if leaf.sans else f"no SAN (CN={leaf.common_name})"
        if len(leaf.sans) > 20:
            names += f" … ({len(leaf.sans) - 20} more)"
        lines = [f"asked for {host}; the certificate covers {names}"]
        wild = [n for n in leaf.dns_names if n.startswith("*.") and host.endswith(n[1:])]
        if wild:
            lines.append(
                f"{wild[0]} covers exactly one label: it does not match {host} (more than one label to the left)"
            )
        return Finding(
            fid,
            Severity.ERROR,
            f"the certificate does not cover {host}",
            (*lines, *chain),
            (
                NextStep(
                    f"Use a name the certificate covers, or reissue it with {host} in its SANs"
                ),
                NextStep(
                    "Check that the right virtual host answers (SNI) — a default certificate means the name is not configured",
                    _s_client(ev, data),
                ),
            ),
        )
    elif fid == "tls.self_signed" and leaf is not None:
        return Finding(
            fid,
            Severity.ERROR,
            f"{host} presents a self-signed certificate ({leaf.subject})",
            tuple(chain),
            (
                NextStep("Replace it with a certificate from a CA the clients trust"),
                NextStep(
                    "Or trust it explicitly (pin the file) if it is yours",
                    f"netmedic check {q(ev.target.input)} --ca-file server.pem",
                ),
                s_client,
            ),
        )
    elif fid in ("tls.untrusted_root", "proxy.tls_intercepted") and data.chain:
        top = data.chain[-1]
        root = top.subject if top.self_issued else top.issuer
        product = interceptor_name(root)
        if fid == "proxy.tls_intercepted":
            return Finding(
                fid,
                Severity.ERROR,
                f"the certificate seen for {host} was issued by an intercepting proxy ({product or root})",
                (f"issuing root: {root}", *chain),
                (
                    NextStep(
                        "A proxy or security product on the path re-signs TLS: compare with the certificate seen from another network"
                    ),
                    NextStep("See which proxy settings are in effect", "env | grep -i _proxy"),
                    NextStep(
                        "If the interception is intended, add its CA to the client's trust store",
                        "update-ca-certificates",
                    ),
                ),
            )
        return Finding(
            fid,
            Severity.ERROR,
            f"the certificate for {host} chains to a root this host does not trust: {root}",
            (f"untrusted root: {root}", f"verify error: {data.verify_message}", *chain),
            (
                NextStep(
                    "If this is a private CA, install its root on this host",
                    "update-ca-certificates",
                ),
                NextStep(
                    "Or pass it for this check",
                    f"netmedic check {q(ev.target.input)} --ca-file root-ca.pem",
                ),
                s_client,
            ),
        )
    elif fid == "tls.incomplete_chain" and leaf is not None:
        return Finding(
            fid,
            Severity.ERROR,
            f"{host} sends its certificate without the intermediate ({leaf.issuer})",
            (
                f"the server sent only the leaf; its issuer {leaf.issuer} was not sent and is not in the trust store",
                "browsers may fill the gap from a cache; most other clients fail",
                *chain,
            ),
            (
                NextStep(
                    "Configure the full chain on the server (nginx ssl_certificate fullchain.pem; Apache SSLCertificateChainFile)"
                ),
                NextStep("Check how many certificates the server sends", _s_client(ev, data)),
                NextStep(
                    "If the issuer is a root from a private CA, install it instead",
                    "update-ca-certificates",
                ),
            ),
        )
    elif fid == "tls.protocol_mismatch":
        offered = ", ".join(data.offered_versions) or "?"
        accepted = ", ".join(data.accepted_versions) or "none of TLS 1.0–1.3"
        return Finding(
            fid,
            Severity.ERROR,
            f"{host} and this client have no TLS version in common",
            (
                f"this client offers {offered}; the server accepts {accepted}",
                f"handshake error: {data.detail}",
                *chain,
            ),
            (
                NextStep(
                    "Enable a current version (TLS 1.2 and 1.3) on the server, or allow the server's version in the client"
                ),
                *(
                    NextStep(
                        f"Confirm the server accepts {v}",
                        _s_client(ev, data, " " + _FLAGS.get(v, "")),
                    )
                    for v in data.accepted_versions[:1]
                ),
            ),
        )
    elif fid == "tls.no_shared_cipher":
        return Finding(
            fid,
            Severity.ERROR,
            f"{host} and this client have no cipher suite in common",
            (
                f"handshake error: {data.detail}",
                f"with a permissive cipher list the server picks {data.permissive_cipher}"
                + (f" ({', '.join(data.accepted_versions)})" if data.accepted_versions else ""),
                *chain,
            ),
            (
                NextStep(
                    "Enable modern AEAD suites (ECDHE with AES-GCM or ChaCha20) on the server"
                ),
                NextStep(
                    "List what the server accepts",
                    f"nmap --script ssl-enum-ciphers -p {ev.target.port} {q(host)}",
                ),
            ),
        )
    elif fid == "tls.client_cert_required":
        return Finding(
            fid,
            Severity.ERROR,
            f"{host} requires a client certificate (mutual TLS)",
            (
                "the server sent a CertificateRequest"
                if data.client_cert_requested
                else "the server rejected the connection for lack of a client certificate",
                f"then: {data.detail}"
                + (
                    " after the handshake (TLS 1.3 reports it on the first read)"
                    if data.protocol == "TLSv1.3"
                    else ""
                ),
                *chain,
            ),
            (
                NextStep("Configure the client with its certificate and key"),
                NextStep(
                    "Test with them",
                    _s_client(ev, data, " -cert client.pem -key client.key"),
                ),
            ),
        )
    elif fid == "tls.not_tls":
        spoken = data.peer_protocol or "an unknown protocol"
        banner = f" (it sent: {data.peer_banner})" if data.peer_banner else ""
        return Finding(
            fid,
            Severity.ERROR,
            f"port {ev.target.port} on {host} does not speak TLS: it speaks {spoken}"
            if data.peer_protocol
            else f"port {ev.target.port} on {host} does not speak TLS: it hangs up on the ClientHello",
            (f"handshake error: {data.detail}", f"server greeting/answer: {spoken}{banner}"),
            (
                NextStep(
                    "Use the plaintext scheme (http:// instead of https://), or the port where TLS is served"
                ),
                NextStep("See what the port says", f"nc -v {q(host)} {ev.target.port}"),
            ),
        )
    elif fid == "tls.handshake_timeout":
        return Finding(
            fid,
            Severity.ERROR,
            f"{host}:{ev.target.port} accepts the connection but never answers "
            + (f"the {data.starttls} STARTTLS exchange" if data.starttls else "the TLS handshake"),
            (
                data.detail,
                f"waited {ms(data.handshake_s) if data.handshake_s else 'until the deadline'}",
            ),
            (
                NextStep("See whether anything answers", _s_client(ev, data)),
                NextStep(
                    "The port may expect a plaintext protocol that waits for the client, or the server is overloaded"
                ),
                NextStep(
                    "Check for a middlebox dropping the ClientHello (large hellos and MTU problems look the same)",
                    f"tracepath -n {q(data.address)}",
                ),
            ),
        )
    elif fid == "tls.starttls_refused" and data.peer_protocol:
        service = "PostgreSQL" if data.starttls == "postgres" else "an SMTP server"
        return Finding(
            fid,
            Severity.ERROR,
            f"{host}:{ev.target.port} answers the {data.starttls} STARTTLS request in "
            f"{data.peer_protocol}: it is not {service}",
            (data.detail,),
            (NextStep("See what the port says", f"nc -v {q(host)} {ev.target.port}"),),
        )
    elif fid == "tls.starttls_refused":
        return Finding(
            fid,
            Severity.ERROR,
            f"{host}:{ev.target.port} does not upgrade to TLS ({data.starttls})",
            (data.detail,),
            (
                NextStep(
                    "Enable TLS on the server (PostgreSQL: ssl = on with ssl_cert_file/ssl_key_file)"
                    if data.starttls == "postgres"
                    else "Enable STARTTLS on the mail server"
                ),
                NextStep("Test the upgrade by hand", _s_client(ev, data)),
            ),
        )
    return Finding(  # tls.handshake_failed, or a class whose certificate could not be captured
        fid,
        Severity.ERROR,
        f"the TLS handshake with {host} fails: {data.detail}",
        tuple(chain),
        (s_client,),
    )


_PROBLEM_NAMES = {
    "tls.expired": "expired",
    "tls.not_yet_valid": "not yet valid",
    "tls.hostname_mismatch": "issued for another name",
    "tls.self_signed": "self-signed",
    "tls.untrusted_root": "untrusted root",
    "tls.incomplete_chain": "incomplete chain",
    "proxy.tls_intercepted": "re-signed by an intercepting proxy",
}


def tls_failures(ev: Evidence) -> Iterator[Finding]:
    """One finding per problem of the chain (the handshake stops at the first)."""
    data = ev.data("tls", TlsData)
    if data is None:
        return
    if not data.failure:
        if data.state == UNREACHABLE:
            yield _unreachable(ev, data)
        return
    if data.failure in _PROXY_FAILURES:
        yield _proxy_failure(ev, data)
        return
    chain = _chain_lines(data)
    if data.intercepted:
        chain = [*_interception_lines(data), *chain]
    problems = data.problems or (data.failure,)
    if len(problems) > 1:
        names = ", ".join(_PROBLEM_NAMES.get(p, p) for p in problems)
        chain = [f"every problem of this certificate: {names}", *chain]
    for fid in problems:
        if fid == "tls.not_tls" and not data.peer_protocol and _hangs_up(ev):
            continue  # a port that drops every connection: tcp.reset_after_connect says so
        finding = _failure(ev, data, fid, chain)
        severity = _pg_severity(data, fid)
        if severity is not finding.severity:
            finding = replace(
                finding,
                severity=severity,
                title=f"{finding.title} ({_pg_note(data)})",
            )
        yield finding


def _pg_note(data: TlsData) -> str:
    mode = data.sslmode or "prefer, libpq's default"
    if data.failure == "tls.starttls_refused":
        return f"sslmode={mode}: the client falls back to an unencrypted connection"
    return f"sslmode={mode}: the client does not check this"


def _pg_severity(data: TlsData, fid: str) -> Severity:
    """libpq's sslmode decides what a client tolerates.

    allow/prefer (and no sslmode: libpq's default is prefer) fall back to plaintext
    when the server has no TLS, and none but verify-ca/verify-full check the
    certificate; verify-ca does not check the name.  When the URL gives no sslmode
    the client is unknown (JDBC, Go and others verify), so certificate problems
    stay errors there.
    """
    mode = data.sslmode
    if data.starttls != "postgres":
        return Severity.ERROR
    if fid == "tls.starttls_refused":
        # allow/prefer: the client connects in plaintext as it was told it may, a note.
        # No sslmode: libpq and pgjdbc prefer, Go's lib/pq requires; worth a warning.
        if mode in ("allow", "prefer"):
            return Severity.INFO
        return Severity.WARNING if mode == "" else Severity.ERROR
    if fid in CERT_PROBLEMS:
        if mode in ("allow", "prefer", "require"):
            return Severity.WARNING
        if mode == "verify-ca" and fid == "tls.hostname_mismatch":
            return Severity.WARNING
    return Severity.ERROR


_PROXY_FAILURES = {
    "proxy.unreachable": "cannot be reached",
    "proxy.auth_required": "wants authentication (407)",
    "proxy.upstream_failed": "cannot reach the site",
    "proxy.failed": "refuses the tunnel",
}


def _proxy_failure(ev: Evidence, data: TlsData) -> Finding:
    from probes.diagnosis.proxy_steps import credential_steps
    from probes.proto.http import shown_url

    credentials = (
        credential_steps("", data.proxy, shown_url(ev.target.url()))
        if data.failure == "proxy.auth_required"
        else ()
    )
    return Finding(
        data.failure,
        Severity.ERROR,
        f"the proxy {data.proxy} {_PROXY_FAILURES[data.failure]}: no TLS to {ev.target.host_port} through it",
        (f"CONNECT {ev.target.host_port} via proxy {data.proxy}: {data.detail}",),
        (
            *credentials,
            NextStep("See which proxy settings are in effect", "env | grep -i _proxy"),
            NextStep(
                f"If {ev.target.host} is reachable directly, bypass the proxy for it",
                f"export NO_PROXY={q(ev.target.host)}",
            ),
        ),
    )


def _interception_lines(data: TlsData) -> list[str]:
    leaf, direct = data.leaf, data.direct_leaf
    if leaf is None or direct is None:
        return []
    return [
        f"through proxy {data.proxy}: issuer {leaf.issuer}; key SHA-256 {leaf.spki_sha256 or '?'}",
        f"direct: issuer {direct.issuer}; key SHA-256 {direct.spki_sha256 or '?'}",
        "the proxy presents its own certificate for the site (TLS interception)",
    ]


def _unreachable(ev: Evidence, data: TlsData) -> Finding:
    detail = data.detail.upper()
    refused = "REFUSED" in detail
    # A reset while connecting is the peer's answer (it accepted, then reset): not silence.
    reset = "RESET" in detail
    fid = "tcp.refused" if refused else "tcp.reset_after_connect" if reset else "tcp.filtered"
    what = (
        "refuses the connection"
        if refused
        else "resets the connection as soon as it is accepted"
        if reset
        else "does not answer the connection"
    )
    return Finding(
        fid,
        Severity.ERROR,
        f"{ev.target.host_port} {what}: no TLS handshake was possible",
        (f"connect to {data.address}:{data.port}: {data.detail}",),
        (NextStep("Check the port", f"nc -zv -w 3 {q(ev.target.host)} {ev.target.port}"),),
    )


def _hangs_up(ev: Evidence) -> bool:
    """The tcp probe saw the port reset or close connections it had accepted."""
    tcp = ev.data("tcp", TcpData)
    return tcp is not None and any(hung_up(a) for a in tcp.attempts)


def certificate_warnings(ev: Evidence) -> Iterator[Finding]:
    data = ev.data("tls", TlsData)
    if data is None or data.state != OK or data.leaf is None:
        return
    leaf = data.leaf
    host = ev.target.host
    chain = _chain_lines(data)
    if 0 <= leaf.days_left < EXPIRY_WARNING_DAYS:
        yield Finding(
            "tls.expiring_soon",
            Severity.WARNING,
            f"the certificate for {host} expires in {leaf.days_left} days ({leaf.not_after[:10]})",
            tuple(chain),
            (
                NextStep("Renew it now and check the renewal job (certbot renew --dry-run)"),
                NextStep(
                    "Confirm the dates",
                    _s_client(ev, data).replace(" -showcerts", "")
                    + " | openssl x509 -noout -dates",
                ),
            ),
        )
    top = data.chain[-1]
    product = interceptor_name(top.issuer) or interceptor_name(top.subject)
    if data.intercepted and not product:
        product = f"the proxy {data.proxy}"
    if product:
        yield Finding(
            "proxy.tls_intercepted",
            Severity.WARNING,
            f"TLS to {host} is intercepted by {product}; this host trusts its CA",
            (f"issuer of the top certificate: {top.issuer}", *_interception_lines(data), *chain),
            (
                NextStep(
                    "Clients that do not trust this CA (containers, language runtimes with their own store) will fail: give them the CA, or exempt the host from inspection"
                ),
            ),
        )
    if not leaf.has_san and leaf.common_name:
        yield Finding(
            "tls.cn_only",
            Severity.WARNING,
            f"the certificate for {host} names it only in the subject CN, without a SAN",
            (
                f"subject {leaf.subject}; no subjectAltName extension",
                "Python and old OpenSSL clients accept the CN; browsers, Go and curl with modern TLS do not",
                *chain,
            ),
            (NextStep(f"Reissue the certificate with subjectAltName DNS:{host}"),),
        )
    if hostname_matches(host, leaf) or not leaf.has_san:
        yield Finding(
            "tls.ok",
            Severity.OK,
            f"{host} presents a valid certificate ({leaf.days_left} days left)",
            tuple(chain),
        )


RULES = (tls_failures, certificate_warnings)
