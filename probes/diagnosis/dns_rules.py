"""DNS rules: why a name does not resolve, or resolves to the wrong place."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

from probes.core.model import Finding, NextStep, Severity
from probes.diagnosis.evidence import Evidence, ms, q
from probes.net.dns import DnsData, ResolverAnswer
from probes.net.tcp import TcpData

HOSTS_FILE = "/etc/hosts"
_FAILURE_IDS = {
    "NXDOMAIN": "dns.nxdomain",
    "SERVFAIL": "dns.servfail",
    "REFUSED": "dns.refused",
    "TIMEOUT": "dns.timeout",
    "TRUNCATED": "dns.tcp_blocked",
}


def _line(a: ResolverAnswer) -> str:
    if a.rcode == "NOERROR":
        got = ", ".join(a.addresses) if a.addresses else "no records (NODATA)"
        chain = f" via CNAME {' → '.join(a.cname_chain)}" if a.cname_chain else ""
        result = f"{got}{chain}"
    else:
        result = a.rcode + (f" ({a.detail})" if a.detail else "")
    tried = f" after trying {', '.join(a.tried)}" if len(a.tried) > 1 else ""
    return f"{a.server} {a.rdtype} {a.qname}: {result} in {ms(a.elapsed_s)}{tried}"


def name_failure(ev: Evidence) -> Iterator[Finding]:
    """The system resolver found no address: say which way DNS failed.

    When the target is reached through a proxy, the proxy resolves the name, not
    this host: a local failure is then context (info), and the proxy's own
    findings (or the site's answer through it) carry the verdict.
    """
    proxied = _proxy_resolves(ev)
    for finding in _name_failure(ev):
        if proxied and finding.severity in (Severity.ERROR, Severity.WARNING):
            finding = replace(
                finding,
                severity=Severity.INFO,
                title=f"{finding.title} (here; the proxy resolves it for clients)",
                evidence=(*finding.evidence, proxied),
            )
        yield finding


def _proxy_resolves(ev: Evidence) -> str:
    """Why local DNS does not matter for this target ("" when it does)."""
    from probes.proto.http import HttpData
    from probes.proto.proxy import ProxyData

    http = ev.data("http", HttpData)
    if http is not None and http.proxy:
        outcome = (
            f"answered {http.status} {http.reason}"
            if http.state == "ok"
            else f"failed ({http.state}: {http.detail})"
        )
        return (
            f"clients reach {ev.target.host} via proxy {http.proxy} ({http.proxy_variable}), "
            f"which resolves the name itself: the request through it {outcome}"
        )
    proxy = ev.data("proxy", ProxyData)
    if proxy is not None and proxy.applies and proxy.state != "not_probed":
        return (
            f"clients reach {ev.target.host} via proxy {proxy.proxy} ({proxy.variable}), "
            f"which resolves the name itself: {proxy.method or 'the request'} through it → {proxy.state}"
        )
    return ""


def _name_failure(ev: Evidence) -> Iterator[Finding]:
    data = ev.data("dns", DnsData)
    if data is None or data.system.addresses:
        return
    name = data.name
    answers = list(data.resolvers)
    gai = data.system.error
    evidence = [f"getaddrinfo({name}): {gai.errno_name if gai else 'no addresses'}"]
    evidence += [_line(a) for a in answers]
    if data.resolv_conf_error:
        evidence.append(data.resolv_conf_error)
    server = data.nameservers[0] if data.nameservers else "127.0.0.1"
    dig = f"dig @{q(server)} {q(name)} A"

    rcodes = {a.rcode for a in answers}
    has_records = [a for a in answers if a.rcode == "NOERROR" and a.addresses]
    if has_records:
        # Resolvers know the name but the system resolver did not return it:
        # nsswitch, the hosts file or a local cache is in the way.
        yield Finding(
            "dns.system_mismatch",
            Severity.ERROR,
            f"DNS answers {name} but the system resolver does not",
            tuple(evidence),
            (
                NextStep(
                    "See which sources the system resolver uses", "grep ^hosts: /etc/nsswitch.conf"
                ),
                NextStep("Look for the name in the hosts file", f"grep -i -- {q(name)} /etc/hosts"),
                NextStep(
                    "Ask the system resolver the way applications do", f"getent ahosts {q(name)}"
                ),
            ),
        )
        return
    if not answers and gai is not None and gai.errno_name in ("TIMEOUT", "EAI_AGAIN"):
        rcodes.add("TIMEOUT")
    for rcode in ("NXDOMAIN", "SERVFAIL", "REFUSED", "TRUNCATED", "TIMEOUT"):
        if rcode in rcodes:
            yield Finding(
                _FAILURE_IDS[rcode],
                Severity.ERROR,
                _title(rcode, name, answers),
                tuple(evidence),
                _steps(rcode, name, data, dig),
            )
            return
    if answers and all(a.rcode == "NOERROR" and not a.addresses for a in answers):
        yield Finding(
            "dns.nodata",
            Severity.ERROR,
            f"{name} exists but has no A or AAAA record",
            tuple(evidence),
            (
                NextStep("See what records the name does have", f"dig @{q(server)} {q(name)} ANY"),
                NextStep("Check for a typo in the record type or a missing record in the zone"),
            ),
        )
        return
    if gai is not None:
        yield Finding(
            "dns.servfail",
            Severity.ERROR,
            f"{name} does not resolve: {gai.explanation}",
            tuple(evidence),
            (
                NextStep(
                    "Ask the system resolver the way applications do", f"getent ahosts {q(name)}"
                ),
            ),
        )


def _title(rcode: str, name: str, answers: list[ResolverAnswer]) -> str:
    servers = sorted({a.server for a in answers if a.rcode == rcode})
    who = ", ".join(servers)
    return {
        "NXDOMAIN": f"{name} does not exist (NXDOMAIN from {who})",
        "SERVFAIL": f"resolvers fail for {name} (SERVFAIL from {who})",
        "REFUSED": f"resolvers refuse to answer for {name} (REFUSED from {who})",
        "TIMEOUT": f"no resolver answers for {name} (timeout: {who or 'system resolver'})",
        "TRUNCATED": f"answer for {name} is truncated over UDP and DNS over TCP fails ({who})",
    }[rcode]


def _steps(rcode: str, name: str, data: DnsData, dig: str) -> tuple[NextStep, ...]:
    server = data.nameservers[0] if data.nameservers else "127.0.0.1"
    if rcode == "NXDOMAIN":
        searched = f" (search domains: {' '.join(data.search)})" if data.search else ""
        return (
            NextStep(f"Check the spelling of {name!r}{searched}"),
            NextStep("Confirm with a direct query", dig),
            NextStep("Compare with a public view of the zone", f"dig +trace {q(name)}"),
        )
    if rcode == "SERVFAIL":
        return (
            NextStep(
                "Check the authoritative servers and DNSSEC with a trace", f"dig +trace {q(name)}"
            ),
            NextStep(
                "See whether DNSSEC validation is the cause", f"dig @{q(server)} {q(name)} A +cd"
            ),
            NextStep("Check the resolver's logs and its upstream forwarders"),
        )
    if rcode == "REFUSED":
        return (
            NextStep(
                f"The resolver {server} does not serve this client or zone: check its ACL (allow-query / access-control)"
            ),
            NextStep("Confirm with a direct query", dig),
        )
    if rcode == "TRUNCATED":
        return (
            NextStep("Confirm that DNS over TCP fails", f"dig +tcp @{q(server)} {q(name)} A"),
            NextStep("Allow TCP port 53 to the resolver in the firewall"),
        )
    return (
        NextStep(
            "Check that the resolver is reachable", f"dig @{q(server)} {q(name)} A +tries=1 +time=2"
        ),
        NextStep("See which resolvers this host uses", "cat /etc/resolv.conf"),
        NextStep("Check the firewall for UDP/TCP port 53 to the resolver"),
    )


def hosts_override(ev: Evidence) -> Iterator[Finding]:
    """/etc/hosts answers differently from DNS."""
    data = ev.data("dns", DnsData)
    if data is None or not data.hosts_addresses or not data.system.addresses:
        return
    dns_addrs = {addr for a in data.resolvers if a.rcode == "NOERROR" for addr in a.addresses}
    hosts = set(data.hosts_addresses)
    if not dns_addrs or dns_addrs & hosts:
        loopback = all(a.startswith(("127.", "::1")) for a in data.hosts_addresses)
        if not dns_addrs and not loopback and any(a.rcode == "NXDOMAIN" for a in data.resolvers):
            yield Finding(
                "dns.hosts_only",
                Severity.INFO,
                f"{data.name} is known only from {HOSTS_FILE}; DNS says NXDOMAIN",
                (f"hosts file: {data.name} → {', '.join(data.hosts_addresses)}",),
                (
                    NextStep(
                        "Other machines will not resolve this name; add it to DNS if they must"
                    ),
                ),
            )
        return
    failing = _failing_addresses(ev)
    stale = sorted(hosts & failing)
    severity = Severity.ERROR if stale else Severity.WARNING
    evidence = [
        f"{HOSTS_FILE}: {data.name} → {', '.join(data.hosts_addresses)}",
        f"DNS: {data.name} → {', '.join(sorted(dns_addrs))}",
        f"applications get {', '.join(data.system.addresses)} (the hosts file wins)",
    ]
    if stale:
        evidence.append(f"connections to {', '.join(stale)} (from the hosts file) fail")
    yield Finding(
        "dns.hosts_override",
        severity,
        f"the hosts file overrides DNS for {data.name}",
        tuple(evidence),
        (
            NextStep("Find the overriding line", f"grep -n -i -- {q(data.name)} {q(HOSTS_FILE)}"),
            NextStep("Remove or correct it if DNS is right, then retest"),
            NextStep("Confirm what applications resolve", f"getent ahosts {q(data.name)}"),
        ),
    )


def resolvers_disagree(ev: Evidence) -> Iterator[Finding]:
    data = ev.data("dns", DnsData)
    if data is None or len(data.nameservers) < 2:
        return
    for rdtype in ("A", "AAAA"):
        answers = [a for a in data.answers(rdtype) if a.rcode in ("NOERROR", "NXDOMAIN")]
        views = {(a.rcode, frozenset(a.addresses)) for a in answers}
        if len(views) < 2:
            continue
        severity = Severity.ERROR if _failing_addresses(ev) else Severity.WARNING
        servers = [a.server for a in answers]
        yield Finding(
            "dns.resolvers_disagree",
            severity,
            f"resolvers give different {rdtype} answers for {data.name}",
            tuple(_line(a) for a in answers),
            (
                *tuple(
                    NextStep(f"Query {s} directly", f"dig @{q(s)} {q(data.name)} {q(rdtype)}")
                    for s in servers[:3]
                ),
                NextStep(
                    "Split-horizon DNS or a stale secondary: compare the zone serials",
                    f"dig @{q(servers[0])} {q(data.name)} SOA",
                ),
            ),
        )
        return


def partial_failures(ev: Evidence) -> Iterator[Finding]:
    """The name resolves, but some configured resolver fails: clients that ask it first stall."""
    data = ev.data("dns", DnsData)
    if data is None or not data.system.addresses:
        return
    bad = [a for a in data.resolvers if a.rcode in _FAILURE_IDS and a.rcode != "NXDOMAIN"]
    if not bad:
        return
    worst = bad[0]
    fid = _FAILURE_IDS[worst.rcode]
    yield Finding(
        fid,
        Severity.WARNING,
        f"resolver {worst.server} fails ({worst.rcode}) although {data.name} resolves",
        tuple(_line(a) for a in bad),
        (
            NextStep(
                "Query the failing resolver directly",
                f"dig @{q(worst.server)} {q(data.name)} {q(worst.rdtype)}",
            ),
            NextStep(
                "Remove or fix the failing nameserver in /etc/resolv.conf: each client waits for it"
            ),
        ),
    )


def _failing_addresses(ev: Evidence) -> set[str]:
    tcp = ev.data("tcp", TcpData)
    if tcp is None:
        return set()
    return {a.address for a in tcp.attempts if not a.ok}


RULES = (name_failure, hosts_override, resolvers_disagree, partial_failures)
