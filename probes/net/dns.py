"""DNS probe: what the system resolver answers versus each configured nameserver.

``getaddrinfo`` honours /etc/hosts and nsswitch, so it is what applications
see.  Next to it we ask every nameserver in resolv.conf directly for A and AAAA,
walking the search list the way glibc does, and keep the real rcode (dnspython's
high-level resolver folds SERVFAIL and REFUSED into ``NoNameservers``: we send
raw queries and read the rcode ourselves).  A truncated UDP answer is retried
over TCP and both outcomes are kept.
"""

from __future__ import annotations

import asyncio
import errno
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from probes.core.context import ProbeContext, Resolution
from probes.core.model import ProbeError, ProbeResult, Status
from probes.core.sanitize import clean_text
from probes.net.resolvconf import ResolvConf, read_hosts, read_resolv_conf

if TYPE_CHECKING:
    import dns.message


RDTYPES = ("A", "AAAA")


@dataclass(frozen=True, slots=True)
class ResolverAnswer:
    server: str
    rdtype: str
    qname: str  # the name whose answer counts (after search domains)
    tried: tuple[str, ...]  # every name sent, in order
    rcode: str  # NOERROR, NXDOMAIN, SERVFAIL, REFUSED..., or TIMEOUT / ERROR
    addresses: tuple[str, ...] = ()
    cname_chain: tuple[str, ...] = ()
    elapsed_s: float = 0.0
    truncated: bool = False
    tcp_retry: str = ""  # "", "ok", or why the TCP retry failed
    detail: str = ""

    @property
    def answered(self) -> bool:
        return self.rcode == "NOERROR"


@dataclass(frozen=True, slots=True)
class SystemAnswer:
    addresses: tuple[str, ...]
    elapsed_s: float
    error: ProbeError | None = None


@dataclass(frozen=True, slots=True)
class DnsData:
    name: str
    nameservers: tuple[str, ...]
    search: tuple[str, ...]
    ndots: int
    system: SystemAnswer
    hosts_addresses: tuple[str, ...]  # what the hosts file says for the name
    resolvers: tuple[ResolverAnswer, ...]
    resolv_conf_error: str = ""

    def answers(self, rdtype: str) -> list[ResolverAnswer]:
        return [a for a in self.resolvers if a.rdtype == rdtype]


def search_candidates(name: str, conf: ResolvConf) -> tuple[str, ...]:
    """Absolute names glibc would try for *name*, in order."""
    if name.endswith("."):
        return (name,)
    absolute = name + "."
    searched = tuple(f"{name}.{domain.rstrip('.')}." for domain in conf.search)
    if name.count(".") >= conf.ndots:
        return (absolute, *searched)
    return (*searched, absolute)


async def probe_dns(ctx: ProbeContext) -> AsyncIterator[ProbeResult]:
    target = ctx.target
    started = time.monotonic()
    if target.is_ip:
        yield ProbeResult(
            "dns", Status.SKIPPED, 0.0, f"{target.display_host} is an address: nothing to resolve"
        )
        return
    conf, conf_error = read_resolv_conf(ctx.config.resolv_conf)
    hosts = read_hosts(ctx.config.hosts_file).get(target.host, ())
    budget = max(0.5, ctx.config.timeout * 0.9)
    query_timeout = min(conf.timeout, budget)
    candidates = search_candidates(target.host, conf)

    resolution_task = asyncio.ensure_future(ctx.resolution())
    jobs = [
        _ask(server, rdtype, candidates, query_timeout, budget, ctx.config.dns_port)
        for server in conf.nameservers
        for rdtype in RDTYPES
    ]
    answers = await asyncio.gather(*jobs)
    resolution: Resolution = await resolution_task
    data = DnsData(
        name=target.host,
        nameservers=conf.nameservers,
        search=conf.search,
        ndots=conf.ndots,
        system=SystemAnswer(resolution.addresses, resolution.elapsed_s, resolution.error),
        hosts_addresses=hosts,
        resolvers=tuple(answers),
        resolv_conf_error=conf_error,
    )
    elapsed = time.monotonic() - started
    if resolution.addresses:
        summary = f"{target.host} → {', '.join(resolution.addresses)}"
        yield ProbeResult("dns", Status.OK, elapsed, summary, data)
    else:
        err = resolution.error or ProbeError("EAI_NONAME", "no addresses")
        yield ProbeResult(
            "dns", Status.FAILED, elapsed, f"{target.host}: {err.explanation}", data, err
        )


async def _ask(
    server: str,
    rdtype: str,
    candidates: tuple[str, ...],
    query_timeout: float,
    budget: float,
    port: int,
) -> ResolverAnswer:
    """Query *server* for each candidate until one is not NXDOMAIN/NODATA."""
    started = time.monotonic()
    deadline = started + budget
    tried: list[str] = []
    last: ResolverAnswer | None = None
    nodata: ResolverAnswer | None = None
    try:
        # Inner timeouts keep within the deadline; this one is only a backstop.
        async with asyncio.timeout(budget + 0.25):
            # glibc goes on to the next candidate after NXDOMAIN or NODATA.
            for qname in candidates:
                tried.append(qname)
                last = await _query(server, port, qname, rdtype, query_timeout, deadline)
                if last.rcode == "TIMEOUT":
                    break
                if last.rcode == "NOERROR" and not last.addresses:
                    nodata = nodata or last
                elif last.rcode != "NXDOMAIN":
                    break
    except TimeoutError:
        last = None
    if last is not None and nodata is not None and not last.addresses:
        last = nodata
    elapsed = time.monotonic() - started
    if last is None:
        return ResolverAnswer(
            server,
            rdtype,
            tried[-1] if tried else "",
            tuple(tried),
            "TIMEOUT",
            elapsed_s=elapsed,
            detail=f"no answer within {budget:g}s",
        )
    return ResolverAnswer(
        server=server,
        rdtype=rdtype,
        qname=last.qname,
        tried=tuple(tried),
        rcode=last.rcode,
        addresses=last.addresses,
        cname_chain=last.cname_chain,
        elapsed_s=elapsed,
        truncated=last.truncated,
        tcp_retry=last.tcp_retry,
        detail=last.detail,
    )


def _remaining(timeout: float, deadline: float) -> float:
    return max(0.05, min(timeout, deadline - time.monotonic()))


async def _query(
    server: str, port: int, qname: str, rdtype: str, timeout: float, deadline: float
) -> ResolverAnswer:
    # dnspython loads on the first query: a check of an address (or the rules reading
    # DnsData) does not pay for it.
    import dns.asyncquery
    import dns.exception
    import dns.flags
    import dns.message
    import dns.rcode
    import dns.rdatatype

    started = time.monotonic()
    query = dns.message.make_query(qname, dns.rdatatype.from_text(rdtype))
    truncated = False
    tcp_retry = ""
    try:
        response = await dns.asyncquery.udp(
            query,
            server,
            timeout=_remaining(timeout, deadline),
            port=port,
            ignore_unexpected=True,
        )
        if response.flags & dns.flags.TC:
            truncated = True
            tcp_timeout = _remaining(timeout, deadline)
            try:
                response = await dns.asyncquery.tcp(query, server, timeout=tcp_timeout, port=port)
                tcp_retry = "ok"
            except dns.exception.Timeout:
                tcp_retry = f"no answer over TCP within {tcp_timeout:.1f}s"
            except OSError as exc:
                tcp_retry = _os_error_text(exc)
            except dns.exception.DNSException as exc:
                tcp_retry = clean_text(str(exc), 120)
    except dns.exception.Timeout:
        return ResolverAnswer(
            server,
            rdtype,
            qname,
            (qname,),
            "TIMEOUT",
            elapsed_s=time.monotonic() - started,
            detail=f"no answer within {timeout:g}s",
        )
    except OSError as exc:
        return ResolverAnswer(
            server,
            rdtype,
            qname,
            (qname,),
            "ERROR",
            elapsed_s=time.monotonic() - started,
            detail=_os_error_text(exc),
        )
    except dns.exception.DNSException as exc:
        return ResolverAnswer(
            server,
            rdtype,
            qname,
            (qname,),
            "ERROR",
            elapsed_s=time.monotonic() - started,
            detail=clean_text(str(exc), 120),
        )
    elapsed = time.monotonic() - started
    if truncated and tcp_retry != "ok":
        return ResolverAnswer(
            server,
            rdtype,
            qname,
            (qname,),
            "TRUNCATED",
            elapsed_s=elapsed,
            truncated=True,
            tcp_retry=tcp_retry,
            detail="UDP answer truncated; TCP retry failed",
        )
    rcode = dns.rcode.to_text(response.rcode())
    addresses, chain = _read_answer(response, qname, rdtype)
    return ResolverAnswer(
        server, rdtype, qname, (qname,), rcode, addresses, chain, elapsed, truncated, tcp_retry
    )


def _read_answer(
    response: dns.message.Message, qname: str, rdtype: str
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Addresses for *qname*, following the CNAME chain inside the answer."""
    import dns.name
    import dns.rdatatype

    wanted = dns.rdatatype.from_text(rdtype)
    current = dns.name.from_text(qname)
    chain: list[str] = []
    addresses: list[str] = []
    for _ in range(16):  # a CNAME loop must not spin
        followed = False
        for rrset in response.answer:
            if rrset.name != current:
                continue
            if rrset.rdtype == dns.rdatatype.CNAME:
                current = rrset[0].target
                chain.append(clean_text(current.to_text(), 255))
                followed = True
                break
            if rrset.rdtype == wanted:
                addresses.extend(clean_text(rr.to_text(), 64) for rr in rrset)
        if not followed:
            break
    return tuple(addresses), tuple(chain)


def _os_error_text(exc: OSError) -> str:
    name = errno.errorcode.get(exc.errno or 0, "OSError")
    return f"{name}: {exc.strerror or exc}"
