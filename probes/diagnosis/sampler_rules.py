"""Sampler rules: what the connection sampler saw become findings.

The sampler (probes/proto/sampler.py) opens one connection per interval and records how
each ended.  A share of the window that failed one way is a finding with that failure's
id: refused -> ``tcp.refused``, no answer to the SYN -> ``tcp.filtered``, ``status 503``
-> ``http.unavailable``, "max number of clients" -> ``service.too_many_connections`` ...
so a live run where a third of the connections fail can never read ``ok``.

Two groups, registered apart in the engine so the more direct reading of the same id
speaks first (the first rule to speak about an id wins, ranking.rank):
:data:`RULES` (transport) right after tcp_rules, which hold the tcp probe's own connect;
:data:`LATE_RULES` (HTTP status, service answers, TLS) after the http, tls and service
rules, which read the whole response of their own request.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from probes.core.clocks import clocked
from probes.core.model import Finding, NextStep, Severity
from probes.core.target import endpoint
from probes.diagnosis.evidence import Evidence, q
from probes.path.ping import PingData
from probes.proto.sampler import (
    ERROR,
    OK,
    REFUSED,
    RESET,
    SERVICE_ERROR,
    STARVED,
    TIMEOUT,
    TLS_DETAIL,
    Attempt,
    SamplerData,
    starved_note,
)

# ---- thresholds (percent of the attempts in the window) ----------------------------------
# A failure kind this common, and seen at least MIN_FAILED times, is a finding (a
# warning: intermittent) — the bar path.loss sets for packets: connections that fail
# now and then are what "intermittent" means, and an operator told "ok" stops looking.
WARN_PCT = 5.0
MIN_FAILED = 2
RESET_ERROR_PCT = 50.0  # resets this common are an error (others: when every attempt failed)
CLEAR_FACTOR = 0.5  # live: a standing finding stays up down to half its threshold
MIN_ATTEMPTS = 3  # fewer in the window: only "every attempt failed" speaks
LATEST = 3  # failed attempts shown in the evidence
# Packet loss explains SYNs that go unanswered: a SYN or its SYN-ACK lost is a timeout.
# Ping loss at least this high to the same address explains unanswered SYNs up to
# LOSS_EXPLAINS_RATIO times it (one packet each way, and a small window's noise); such a
# share is a note (info) beside path.loss, not a verdict of its own.
LOSS_EXPLAINS_PCT = 5.0
LOSS_EXPLAINS_RATIO = 3.0

# ---- which finding each failed attempt stands for ---------------------------------------
_STATUS_IDS = {
    401: "http.unauthorized",
    403: "http.forbidden",
    429: "http.rate_limited",
    502: "http.bad_gateway",
    503: "http.unavailable",
    504: "http.gateway_timeout",
}
_WARNING_ONLY = frozenset({"http.client_error"})  # a 4xx the client may be meant to get
TRANSPORT = ("tcp.refused", "tcp.filtered", "tcp.reset_after_connect", "tcp.connect_error")


def status_id(code: int) -> str:
    if code in _STATUS_IDS:
        return _STATUS_IDS[code]
    return "http.server_error" if code >= 500 else "http.client_error"


def _too_many(detail: str) -> bool:
    low = detail.lower()
    return "too many" in low or ("max" in low and "client" in low)


def finding_id(a: Attempt, speaks: str) -> str | None:
    """The finding a failed attempt stands for (None: it did not fail, or it was cut
    short while this process could not run: that says nothing about the server)."""
    if a.outcome in (OK, STARVED):
        return None
    if a.outcome == REFUSED:
        return "tcp.refused"
    if a.outcome == RESET:
        return "tcp.reset_after_connect"
    if a.outcome == TIMEOUT:
        if a.connect_s is None:
            return "tcp.filtered"  # the SYN got no answer
        return "http.timeout" if speaks == "http" else "service.unavailable"
    if a.outcome.startswith("status "):
        code = a.outcome.removeprefix("status ")
        return status_id(int(code)) if code.isdigit() else "http.client_error"
    if a.outcome == SERVICE_ERROR:
        if speaks == "http":
            return "http.not_http"
        return "service.too_many_connections" if _too_many(a.detail) else "service.unavailable"
    if a.outcome == ERROR and a.detail.startswith(TLS_DETAIL):
        return "tls.handshake_failed"
    return "tcp.connect_error"


@dataclass(frozen=True, slots=True)
class Share:
    """The attempts of the window that failed one way, as a finding reads them."""

    finding_id: str
    data: SamplerData
    failed: tuple[Attempt, ...]  # oldest first
    total: int  # attempts in the window
    every_attempt_failed: bool
    path_loss_pct: float = 0.0  # ping's loss to the same address (its window)

    @property
    def explained_by_loss(self) -> bool:
        """Unanswered SYNs as many as packet loss on the path makes."""
        return (
            self.finding_id == "tcp.filtered"
            and not self.every_attempt_failed
            and self.path_loss_pct >= LOSS_EXPLAINS_PCT
            and self.pct <= LOSS_EXPLAINS_RATIO * self.path_loss_pct
        )

    @property
    def pct(self) -> float:
        return 100.0 * len(self.failed) / self.total

    @property
    def where(self) -> str:
        d = self.data
        return endpoint(d.address, d.port)

    @property
    def live(self) -> bool:
        return self.data.window > 0

    def outcomes(self) -> str:
        """The outcomes behind this finding, most first (e.g. "status 503")."""
        seen: dict[str, int] = {}
        for a in self.failed:
            seen[a.outcome] = seen.get(a.outcome, 0) + 1
        return ", ".join(k for k, _n in sorted(seen.items(), key=lambda kv: -kv[1]))


def _attempt_line(a: Attempt) -> str:
    if a.outcome == TIMEOUT:  # its detail is only the exception's name
        after = "the request" if a.connect_s is not None else "the SYN"
        line = f"timeout (no answer to {after})"
    else:
        line = a.outcome + (f" ({a.detail})" if a.detail else "")
    if a.connect_s is not None:
        line += f", connected in {clocked(a.connect_s, a.connect_clock)}"
    if a.first_byte_s is not None:
        line += f", first byte {clocked(a.first_byte_s, a.first_byte_clock)}"
    return line


def evidence(s: Share) -> tuple[str, ...]:
    d = s.data
    n = len(s.failed)
    counts = ", ".join(f"{k} {c}" for k, c in d.kinds if k != STARVED)
    counts += starved_note(dict(d.kinds).get(STARVED, 0))
    span = f"the last {s.total}" if s.live else f"{s.total}"
    latest = "; ".join(_attempt_line(a) for a in s.failed[-LATEST:][::-1])
    loss = (
        (f"ping loses {s.path_loss_pct:g}% to {d.address}: lost SYNs are expected (path.loss)",)
        if s.explained_by_loss
        else ()
    )
    return (
        f"{n} of {span} connections ({s.pct:.0f}%) ended: {s.outcomes()}",
        f"connection sampler [{d.speaks}] to {s.where}, one every {d.interval_s:g} s, "
        f"{s.total} attempts in the window: {counts}",
        f"connect {d.connect.text()}; first byte {d.first_byte.text()}",
        f"latest: {latest}",
        *loss,
    )


def shares(ev: Evidence, wanted: Callable[[str], bool]) -> Iterator[Share]:
    """Each failure kind of the sampler's window that deserves a finding."""
    data = ev.data("connections", SamplerData)
    if data is None or not data.recent:
        return
    recent = tuple(a for a in data.recent if a.outcome != STARVED)
    total = len(recent)
    if not total:
        return
    by_id: dict[str, list[Attempt]] = {}
    for a in recent:
        fid = finding_id(a, data.speaks)
        if fid is not None:
            by_id.setdefault(fid, []).append(a)
    every = sum(len(v) for v in by_id.values()) == total
    loss = _ping_loss(ev, data.address)
    leading = max(by_id, key=lambda k: len(by_id[k]), default=None)
    for fid, failed in by_id.items():
        if not wanted(fid):
            continue
        pct = 100.0 * len(failed) / total
        threshold = WARN_PCT * (CLEAR_FACTOR if fid in ev.standing else 1.0)
        enough = total >= MIN_ATTEMPTS and len(failed) >= MIN_FAILED and pct >= threshold
        if enough or (every and fid == leading):  # a failed sampler always has its finding
            yield Share(fid, data, tuple(failed), total, every, loss)


def _ping_loss(ev: Evidence, address: str) -> float:
    ping = ev.data("ping", PingData)
    hosts = [h for h in ping.hosts if h.address == address] if ping else []
    return max((h.stats.loss_pct for h in hosts if h.stats.sent), default=0.0)


def severity(s: Share) -> Severity:
    if s.explained_by_loss:
        return Severity.INFO
    if s.finding_id in _WARNING_ONLY:
        return Severity.WARNING
    if s.every_attempt_failed:
        return Severity.ERROR
    if s.finding_id == "tcp.reset_after_connect" and s.pct >= RESET_ERROR_PCT:
        return Severity.ERROR
    return Severity.WARNING


# ---- titles and next steps ---------------------------------------------------------------
_HOW = {
    "tcp.refused": "are refused",
    "tcp.filtered": "get no answer to their SYN",
    "tcp.reset_after_connect": "are reset",
    "tcp.connect_error": "fail with an error",
    "tls.handshake_failed": "fail their TLS handshake",
    "http.timeout": "get no HTTP answer in time",
    "http.not_http": "are answered in something other than HTTP",
    "service.too_many_connections": "are turned away: too many clients",
    "service.unavailable": "get a service error",
}


def title(s: Share) -> str:
    if s.every_attempt_failed and len(s.failed) == s.total:
        return f"every sampled connection to {s.where} failed: {s.outcomes()}"
    if s.explained_by_loss:
        return f"connections to {s.where} time out now and then: packet loss on the path"
    how = _HOW.get(s.finding_id)
    noun = "connections"
    if how is None:  # an HTTP status
        how, noun = f"are answered {s.outcomes().replace('status ', '')}", "requests"
    how += "; none succeeded" if s.every_attempt_failed else " (intermittent)"
    if s.live:  # the figure moves every round: it leads the evidence, not the title
        return f"{noun} to {s.where} {how}"
    return f"{s.pct:.0f}% of {noun} to {s.where} {how}"


def _count_codes(ev: Evidence) -> NextStep:
    return NextStep(
        "Count the answers over 20 requests (is it one backend in a pool?)",
        "for i in $(seq 20); do curl -s -o /dev/null -m 5 -w '%{http_code}\\n' "
        f"{q(ev.target.input)}; done | sort | uniq -c",
    )


def next_steps(ev: Evidence, s: Share) -> tuple[NextStep, ...]:
    port = s.data.port
    address = q(s.data.address)
    fid = s.finding_id
    host = ev.target.host
    wire = f"tcpdump -ni any 'tcp port {port} and tcp[tcpflags] & (tcp-syn|tcp-rst) != 0'"
    if fid == "tcp.refused":
        return (
            NextStep(
                f"On {host}: does the listener come and go (a service restarting)? "
                "Check it and its accept queue (Recv-Q against Send-Q)",
                f"ss -ltn 'sport = :{port}'",
            ),
            NextStep(
                f"On {host}: an overflowing accept queue answers with a reset when "
                "tcp_abort_on_overflow is 1; see the overflow counters",
                "sysctl net.ipv4.tcp_abort_on_overflow; nstat -az TcpExtListenOverflows",
            ),
            NextStep(
                "If a load balancer is in front, check its members' health: one member "
                "down refuses its share of the connections"
            ),
            NextStep("Watch the SYNs and resets on the wire", wire),
        )
    if fid == "tcp.filtered":
        return (
            NextStep(
                f"On {host}: a listener that accepts too slowly fills its accept queue "
                "(Recv-Q reaches Send-Q) and the kernel drops new SYNs",
                f"ss -ltn 'sport = :{port}'",
            ),
            NextStep(
                f"On {host}: do the drop counters grow (full SYN or accept queue)?",
                "nstat -az TcpExtListenOverflows TcpExtListenDrops TcpExtTCPReqQFullDrop",
            ),
            NextStep(
                "On each firewall or NAT on the way: a full conntrack table drops new "
                "connections ('nf_conntrack: table full' in the kernel log)",
                "sysctl net.netfilter.nf_conntrack_count net.netfilter.nf_conntrack_max",
            ),
            NextStep(
                "Look for a rate limit on new connections (limit / hashlimit / meter rules)",
                "nft list ruleset | grep -n -i -E 'limit|meter'",
            ),
            NextStep("Find where the SYN stops", f"traceroute -n -T -p {port} {address}"),
        )
    if fid == "tcp.reset_after_connect":
        return (
            NextStep(
                "Look for the side that sends the resets (server logs, a proxy or load "
                "balancer in front, conntrack drops)",
                f"ss -tni dst {address}",
            ),
            NextStep("Watch the resets on the wire", wire),
        )
    if fid == "tcp.connect_error":
        return (
            NextStep("Try the same connect by hand", f"nc -vz -w 3 {address} {port}"),
            NextStep("Look for the errno in this host's kernel log", "dmesg -T | tail -n 50"),
        )
    if fid == "tls.handshake_failed":
        return (
            NextStep(
                "See the handshake",
                f"openssl s_client -connect {q(ev.target.host_port)} -servername {q(host)} -brief",
            ),
            NextStep(
                "Read every problem of the certificate chain",
                f"netmedic check {q(ev.target.input)} --symptom tls",
            ),
        )
    if fid == "service.too_many_connections" and s.data.speaks == "postgres":
        return (
            NextStep(
                "See who holds the connections, against max_connections",
                f"psql -h {q(host)} -p {port} -c 'SELECT usename, application_name, state, "
                "count(*) FROM pg_stat_activity GROUP BY 1, 2, 3 ORDER BY 4 DESC'",
            ),
            NextStep(
                "Close idle sessions or pool them (PgBouncer); raise max_connections only "
                "with the memory for it",
                f"psql -h {q(host)} -p {port} -c 'SHOW max_connections'",
            ),
        )
    if fid == "service.too_many_connections":
        return (
            NextStep(
                "See who holds the connections and the limit",
                f"redis-cli -h {q(host)} -p {port} INFO clients",
            ),
            NextStep(
                "Close idle clients, pool them, or raise the limit (maxclients; check "
                "ulimit -n too)",
                f"redis-cli -h {q(host)} -p {port} CONFIG GET maxclients",
            ),
            NextStep(
                "Count the connections it holds now",
                f"ss -tn state established '( sport = :{port} )' | wc -l",
            ),
        )
    if fid == "service.unavailable":
        return (
            NextStep(
                "Ask it by hand and read its answer",
                f"redis-cli -h {q(host)} -p {port} PING"
                if s.data.speaks == "redis"
                else f"nc -v -w 3 {address} {port}",
            ),
            NextStep("Check the service's log and state (starting, loading, overloaded)"),
        )
    if fid == "http.timeout":
        return (
            NextStep(
                "Time the phases yourself",
                "curl -s -o /dev/null -m 10 -w '%{time_connect} %{time_starttransfer}\\n' "
                f"{q(ev.target.input)}",
            ),
            NextStep(
                "The application is stuck or overloaded now and then: check its worker "
                "pool, slow queries and logs"
            ),
        )
    if fid == "http.not_http":
        return (NextStep("See what the port says", f"nc -v -w 3 {address} {port}"),)
    return _http_steps(ev, s)


def _http_steps(ev: Evidence, s: Share) -> tuple[NextStep, ...]:
    fid = s.finding_id
    why = {
        "http.unavailable": "503: overloaded, in maintenance, or no healthy backend for "
        "this request; a share of 503s is often one member of a pool down",
        "http.bad_gateway": "502: the proxy got an invalid answer from an upstream (one "
        "crashing or restarting); read the proxy's error log "
        "(nginx: /var/log/nginx/error.log)",
        "http.gateway_timeout": "504: an upstream did not answer the proxy in time; compare "
        "the proxy's upstream timeout with the application's response time",
        "http.rate_limited": "429: this client is rate limited (the sampler's own requests "
        f"count: one every {s.data.interval_s:g} s); honour Retry-After, check the quota",
        "http.unauthorized": "401 on some requests only: one backend configured "
        "differently, or credentials that expire",
        "http.forbidden": "403 on some requests only: an allow list, WAF or one backend "
        "configured differently",
        "http.server_error": "the application fails on some requests: read its error log",
        "http.client_error": "the server rejects the request (404 wrong path, 405 wrong "
        "method): check the URL; on some requests only, one backend differs",
    }[fid]
    return (
        NextStep(why[0].upper() + why[1:]),
        _count_codes(ev),
        NextStep("See one exchange", f"curl -sv -o /dev/null {q(ev.target.input)}"),
    )


def _findings(ev: Evidence, wanted: Callable[[str], bool]) -> Iterator[Finding]:
    for s in shares(ev, wanted):
        yield Finding(s.finding_id, severity(s), title(s), evidence(s), next_steps(ev, s))


def transport_failures(ev: Evidence) -> Iterator[Finding]:
    """Refused, unanswered, reset and failed connects the sampler saw."""
    yield from _findings(ev, lambda fid: fid in TRANSPORT)


def application_failures(ev: Evidence) -> Iterator[Finding]:
    """HTTP statuses, service answers and TLS failures the sampler saw."""
    yield from _findings(ev, lambda fid: fid not in TRANSPORT)


RULES = (transport_failures,)
LATE_RULES = (application_failures,)
