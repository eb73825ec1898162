"""Path rules: loss, latency, unreachable routers, dead hosts, MTU black holes.

Reading a traceroute honestly: a hop that shows loss while later hops show
none is a router that rate-limits or hides its ICMP, not loss.  Loss that
starts at hop N and carries on to the end is real, and N is where it starts.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

from probes.core.clocks import clock_label, clocked, ms_number
from probes.core.model import Finding, NextStep, Severity
from probes.diagnosis.connected import ANY_ADDRESS, completed_connects
from probes.diagnosis.evidence import Evidence, ms, q
from probes.net.tcp import OPEN, REFUSED, TcpData
from probes.path.mtu import MtuData
from probes.path.ping import PingData, PingHost
from probes.path.route import RouteData
from probes.path.trace import DESTINATION, SILENT, UNREACH, Hop, TraceData

MIN_SAMPLES = 3  # per hop, before its loss means anything
LOSS_PCT = 5.0  # loss at or above this is worth a finding (with at least two lost)
LOSS_ERROR_PCT = 50.0  # loss at or above this is an error, not a warning
LATENCY_S = 0.15  # median RTT at or above this is worth a warning


def _unrouted(ev: Evidence) -> set[str]:
    route = ev.data("route", RouteData)
    return {r.address for r in route.routes if not r.routable} if route else set()


def _same(a: str, b: str) -> bool:
    try:
        return ipaddress.ip_address(a.split("%", 1)[0]) == ipaddress.ip_address(b.split("%", 1)[0])
    except ValueError:
        return a == b


def answered_directly(ev: Evidence, address: str) -> str:
    """Stronger evidence that *address* itself answered in this run ("" when none).

    A completed connection (TCP connect, sampled connection, TLS handshake) or a
    reset sent by the address itself outweigh an ICMP error (or silence) about
    ping/trace packets.
    """
    connected = [
        c
        for c in completed_connects(ev.results, ev.target.port)
        if c.address != ANY_ADDRESS and _same(c.address, address)
    ]
    if connected:
        return connected[0].how
    tcp = ev.data("tcp", TcpData)
    for a in tcp.attempts if tcp else ():
        own_reset = a.icmp is None or _same(a.icmp.sender, address)
        if a.state == REFUSED and _same(a.address, address) and own_reset:
            return f"{address} itself answered a TCP SYN to port {a.port} with a reset"
    return ""


def ipv6_only_failure(ev: Evidence, address: str) -> bool:
    """True when *address* is the IPv6 side of a dual-stack name whose IPv4 works
    over TCP while every IPv6 connect fails: tcp.ipv6_broken explains it all."""
    tcp = ev.data("tcp", TcpData)
    if tcp is None or ev.target.is_ip or ":" not in address:
        return False
    v4_open = any(a.family == 4 and a.state == OPEN for a in tcp.attempts)
    v6 = [a for a in tcp.attempts if a.family == 6]
    return v4_open and bool(v6) and all(a.state != OPEN for a in v6)


def _demoted(finding: Finding, why: str) -> Finding:
    return Finding(
        finding.id,
        Severity.INFO,
        f"{finding.title} — but {why}",
        (*finding.evidence, f"not the cause: {why}"),
        finding.next_steps,
    )


def _ping_line(h: PingHost) -> str:
    s = h.stats
    text = f"ping {h.address} [{h.mode}]: {s.received}/{s.sent} answered, {s.loss_pct:g}% loss"
    if s.avg_s is not None and s.min_s is not None and s.max_s is not None:
        figures = "/".join(ms_number(v * 1000) for v in (s.min_s, s.avg_s, s.max_s))
        text += f", rtt min/avg/max {figures} ms ({clock_label(h.clock)})"
    if s.jitter_s is not None:
        text += f", jitter {ms(s.jitter_s)}"
    if h.unreachable:
        text += f"; unreachable from {h.unreachable}"
    return text


def _hop_line(h: Hop) -> str:
    who = ", ".join(r.address for r in h.responders) or "*"
    if len(h.responders) > 1:
        who += f" ({len(h.responders)} responders: load balanced)"
    text = f"hop {h.ttl}: {who} loss {h.loss_pct:g}% ({h.received}/{h.sent} answered)"
    if h.avg_s is not None:
        text += f" avg {ms(h.avg_s)}"
    if h.status == SILENT:
        text += " — never answers"
    if h.note:
        text += f" — {h.note}"
    return text


def _trace_lines(t: TraceData) -> list[str]:
    head = (
        f"trace {t.address} [{t.mode}, {t.protocol}{f' port {t.port}' if t.port else ''}], "
        f"{t.rounds} rounds, rtt by {clock_label(t.clock)}"
    )
    lines = [head, *(_hop_line(h) for h in t.hops)]
    if not t.reached:
        lines.append(f"the path stops: {t.stop_reason}")
    return lines


def _trace_cmd(t: TraceData) -> str:
    flag = {"tcp": f"-T -P {t.port}", "udp": "-u"}.get(t.protocol, "")
    return " ".join(x for x in ("mtr -n -r -c 20", flag, q(t.address)) if x)


def unreachable(ev: Evidence) -> Iterator[Finding]:
    trace = ev.data("trace", TraceData)
    ping = ev.data("ping", PingData)
    hop = None
    if trace and not trace.reached and trace.stopped_at:
        stop = trace.hops[trace.stopped_at - 1]
        if stop.status == UNREACH:
            hop = stop
    pinged = [h for h in ping.hosts if h.unreachable and not h.stats.received] if ping else []
    if hop is None and not pinged:
        return
    if hop is not None:
        router, what, address = hop.address, hop.note, trace.address if trace else ""
    else:
        router, _, what = pinged[0].unreachable.partition(": ")
        address = pinged[0].address
    evidence = [_ping_line(h) for h in ping.hosts] if ping else []
    evidence += _trace_lines(trace) if trace else []
    admin = "prohibited" in what or "policy" in what
    fid = "path.admin_prohibited" if admin else "path.unreachable"
    title = (
        f"a firewall at {router} rejects traffic to {address} ({what})"
        if admin
        else f"router {router} says {address} is unreachable ({what})"
    )
    found = Finding(
        fid,
        Severity.ERROR,
        title,
        tuple(evidence),
        (
            NextStep(f"On {router}, check its route to {address}", f"ip route get {q(address)}"),
            NextStep(
                f"On {router}, list the firewall rules" if admin else "See the whole path",
                "nft list ruleset" if admin else f"mtr -n -r -c 10 {q(address)}",
            ),
            NextStep(
                "If the route should exist, check the next hop's interface and the routing protocol",
                "ip -br link; ip route show table all",
            ),
        ),
    )
    direct = answered_directly(ev, address)
    if direct:
        found = _demoted(
            found,
            f"{direct}: the ICMP error is about {'ping/trace' if ping and trace else 'probe'} "
            "packets only (a filter for ICMP/UDP), not about the connection",
        )
    elif ipv6_only_failure(ev, address):
        found = _demoted(found, "IPv4 works and only IPv6 fails (see tcp.ipv6_broken)")
    yield found


def host_down(ev: Evidence) -> Iterator[Finding]:
    ping = ev.data("ping", PingData)
    if ping is None:
        return
    tcp = ev.data("tcp", TcpData)
    trace = ev.data("trace", TraceData)
    skip = _unrouted(ev)
    for host in ping.hosts:
        s = host.stats
        if host.address in skip or s.received or not s.sent or host.unreachable or host.errors:
            continue
        if trace and trace.address == host.address and trace.reached:
            continue
        if answered_directly(ev, host.address):
            continue  # it answered TCP or TLS: ICMP is filtered, not a dead host
        if any(
            _same(a.address, host.address) and a.icmp is not None
            for a in (tcp.attempts if tcp else ())
        ):
            continue  # a router answered the SYN with ICMP: tcp_rules names it
        evidence = [_ping_line(host)]
        if trace and trace.address == host.address:
            evidence += _trace_lines(trace)
        if tcp:
            evidence += [
                f"tcp {a.address}:{a.port} {a.state}"
                for a in tcp.attempts
                if a.address == host.address
            ]
        last = ""
        if trace and trace.address == host.address and trace.stopped_at:
            last = trace.hops[trace.stopped_at - 1].address
        title = f"{host.address} answers nothing (ping, traceroute and TCP all go unanswered)"
        steps = [
            NextStep("Check the host is up (console, hypervisor, cloud status page)"),
            NextStep(
                "Watch for its ARP/NDP entry on the last router (FAILED means down or gone)",
                f"ip neigh show {q(host.address)}",
            ),
        ]
        if last:
            steps.insert(
                0,
                NextStep(
                    f"The last router that answers is {last}: check its route and firewall towards {host.address}",
                    f"ip route get {q(host.address)}",
                ),
            )
        found = Finding("path.host_down", Severity.ERROR, title, tuple(evidence), tuple(steps))
        if ipv6_only_failure(ev, host.address):
            found = _demoted(found, "IPv4 works and only IPv6 fails (see tcp.ipv6_broken)")
        yield found


def send_failed(ev: Evidence) -> Iterator[Finding]:
    """Ping, trace or MTU probes this host could not send (not a path problem)."""
    skip = _unrouted(ev)
    lines = []
    for name in ("ping", "trace", "mtu"):
        result = ev.results.get(name)
        if result is None or not result.final or result.error is None:
            continue
        if result.error.errno_name == "SEND_FAILED":
            address = getattr(result.data, "address", "")
            if address in skip:
                continue
            lines.append(f"{name}: {result.error.explanation}")
    if not lines:
        return
    local_rule = any("EPERM" in x or "EACCES" in x for x in lines)
    yield Finding(
        "path.send_failed",
        Severity.WARNING,
        "this host could not send the path probes' packets"
        + (" (EPERM: a firewall rule on this host's output path?)" if local_rule else ""),
        tuple(lines),
        (
            NextStep("List this host's output firewall rules", "nft -a list ruleset"),
            NextStep("See the route the kernel picks", "ip route get <address>"),
        ),
    )


def silent_destination(ev: Evidence) -> Iterator[Finding]:
    """Ping, trace or MTU probes the destination never answered, read against the
    rest of the evidence: ICMP filtering when the host answers otherwise, a host
    that answers nothing when no ping says more."""
    ping = ev.data("ping", PingData)
    trace = ev.data("trace", TraceData)
    mtu = ev.data("mtu", MtuData)
    silent: list[tuple[str, str]] = []  # (address, what went unanswered)
    for h in ping.hosts if ping else ():
        if h.stats.sent and not h.stats.received and not h.unreachable and not h.errors:
            silent.append((h.address, f"{h.stats.sent} pings"))
    if trace and not trace.reached:
        stop = trace.hops[trace.stopped_at - 1] if trace.stopped_at else None
        if stop is None or stop.status != UNREACH:
            silent.append((trace.address, f"traceroute ({trace.stop_reason})"))
    if mtu and mtu.path_mtu is None:
        silent.append((mtu.address, "echo requests with DF set (path MTU)"))
    if not silent:
        return
    skip = _unrouted(ev)
    pinged = {h.address for h in ping.hosts if h.stats.received} if ping else set()
    # One note per address naming everything it left unanswered: a probe that got no
    # ICMP back measured nothing, and the note is what says so (coverage reads it).
    unanswered: dict[str, list[str]] = {}
    for address, what in silent:
        unanswered.setdefault(address, []).append(what)
    for address, whats in unanswered.items():
        if address in skip:
            continue
        what = ", ".join(whats)
        direct = answered_directly(ev, address)
        if direct or address in pinged:
            why = direct or f"{address} answers ping"
            yield Finding(
                "path.icmp_limited",
                Severity.INFO,
                f"{address} does not answer {what}, but {why}: those probes are filtered "
                "or rate-limited, the host is up",
                (f"unanswered: {what}", f"answered: {why}"),
                (
                    NextStep(
                        "Judge reachability by the connection to the service, not by ICMP/UDP probes"
                    ),
                ),
            )
            return
        if ping is None and not ipv6_only_failure(ev, address):
            yield Finding(
                "path.host_down",
                Severity.WARNING,
                f"{address} answers nothing this check sent ({what})",
                (f"unanswered: {what}",),
                (
                    NextStep("Check whether the host answers ping", f"ping -c 3 {q(address)}"),
                    NextStep("Check the host is up (console, hypervisor, cloud status page)"),
                ),
            )
            return


def _loss_start(t: TraceData, threshold: float) -> int | None:
    """The first hop from which every later hop (and the destination) loses packets."""
    hops = [h for h in t.hops if h.sent >= MIN_SAMPLES]
    if not hops or hops[-1].loss_pct < threshold:
        return None
    start = None
    for h in reversed(hops):
        if h.status == SILENT:
            continue
        if h.loss_pct >= threshold:
            start = h.ttl
        else:
            break
    return start


def _limited_hops(t: TraceData, threshold: float, live: bool = False) -> list[Hop]:
    """Hops with loss (or silence) while a later hop loses less: rate limiting or hiding.

    Live (a rolling window), a later hop stops the loss only below half the threshold:
    with random loss on the path every hop's figure wanders around it, and "hop 3
    rate-limits" must not come and go with each lost packet."""
    out = []
    for i, h in enumerate(t.hops):
        if h.status in (DESTINATION, SILENT) or h.sent < MIN_SAMPLES or h.loss_pct < threshold:
            continue
        later = [x for x in t.hops[i + 1 :] if x.received]
        stops = threshold / 2 if live else max(threshold, h.loss_pct / 2)
        if later and min(x.loss_pct for x in later) < stops:
            out.append(h)
    return out


def loss(ev: Evidence) -> Iterator[Finding]:
    """Loss comes from ping-style evidence only (echoes and their answers, one for one).

    A traceroute's unanswered probes are not loss by themselves: routers and the
    destination rate-limit the ICMP errors a trace depends on (time exceeded,
    port unreachable).  The trace only says *where* loss that ping saw starts.
    """
    ping = ev.data("ping", PingData)
    trace = ev.data("trace", TraceData)
    # Hysteresis (live): loss that was raised stays up until it falls below half the
    # threshold, and an error stays an error down to 40%.
    up = ev.standing.get("path.loss")
    threshold = LOSS_PCT / 2 if up is not None else LOSS_PCT
    lossy = []
    if ping:
        for h in ping.hosts:
            lost = h.stats.sent - h.stats.received
            if h.stats.received and lost >= 2 and h.stats.loss_pct >= threshold:
                lossy.append(h)
    if not lossy or ping is None:
        return
    # A live run reads a rolling window: its loss figure moves every round, and random
    # loss sits around any threshold.  Its title leaves the figure to the evidence and
    # the panels (a title that changes every round repaints every list that shows it),
    # and a hop carries the loss on at half the threshold, so "starting at hop N" does
    # not move with each lost or kept packet.
    live = ping.window > 0
    located = trace is not None and trace.reached and trace.address == lossy[0].address
    carry = threshold / 2 if live else threshold
    start = _loss_start(trace, carry) if trace is not None and located else None
    worst_host = max(lossy, key=lambda h: h.stats.loss_pct)
    worst = worst_host.stats.loss_pct
    evidence = []
    if live:
        sent = worst_host.stats.sent
        evidence.append(f"{worst:g}% loss to {worst_host.address} over the last {sent} pings")
    evidence += [_ping_line(h) for h in ping.hosts]
    evidence += _trace_lines(trace) if trace else []
    severe = worst >= (LOSS_ERROR_PCT - 10 if up is Severity.ERROR else LOSS_ERROR_PCT)
    severity = Severity.ERROR if severe else Severity.WARNING
    address = lossy[0].address
    where = ""
    steps = []
    if start is not None and trace is not None:
        hop = trace.hops[start - 1]
        before = trace.hops[start - 2].address if start >= 2 else "this host"
        where = f", starting at hop {start} ({hop.address})"
        steps.append(
            NextStep(
                f"The loss starts between hop {start - 1} ({before}) and hop {start} ({hop.address}): "
                "check that link's interface counters (errors, drops) and its load",
                "ip -s link",
            )
        )
    steps.append(NextStep("Watch the path over a longer run", f"mtr -n -r -c 100 {q(address)}"))
    steps.append(
        NextStep("Confirm with many pings (loss %, mdev)", f"ping -c 200 -i 0.05 -q {q(address)}")
    )
    yield Finding(
        "path.loss",
        severity,
        f"packet loss to {address}{where}"
        if live
        else f"{worst:g}% packet loss to {address}{where}",
        tuple(evidence),
        tuple(steps),
    )


def _ping_clean(ev: Evidence, address: str) -> bool:
    """True when ping to *address* lost nothing that matters (or ping did not run)."""
    ping = ev.data("ping", PingData)
    hosts = [h for h in ping.hosts if h.address == address] if ping else []
    return all(h.stats.received and h.stats.loss_pct < LOSS_PCT for h in hosts)


def rate_limited(ev: Evidence) -> Iterator[Finding]:
    trace = ev.data("trace", TraceData)
    if trace is None or not trace.reached:
        return
    limited = _limited_hops(trace, LOSS_PCT, live=trace.window > 0)
    silent = [h for h in trace.hops if h.status == SILENT]
    dest = trace.hops[-1] if trace.hops else None
    quiet_dest = (
        dest is not None
        and dest.sent >= MIN_SAMPLES
        and dest.loss_pct >= LOSS_PCT
        and _ping_clean(ev, trace.address)
    )
    if not limited and not silent and not quiet_dest:
        return
    names = [f"hop {h.ttl} ({h.address or 'silent'})" for h in (*silent, *limited)]
    if quiet_dest and dest is not None:
        names.append(f"the destination {dest.address}")
    reason = (
        "ping shows no loss" if quiet_dest else "later hops show no loss"
    ) + ", so this is not packet loss"
    evidence = list(_trace_lines(trace))
    ping = ev.data("ping", PingData)
    if quiet_dest and ping:
        evidence += [_ping_line(h) for h in ping.hosts]
    yield Finding(
        "path.icmp_limited",
        Severity.INFO,
        f"{', '.join(names)} "
        + ("hides or rate-limits its" if len(names) == 1 else "hide or rate-limit their")
        + f" ICMP answers{' to traceroute probes' if quiet_dest else ''}; {reason}",
        tuple(evidence),
        (
            NextStep(
                "Judge loss by ping to the destination, not by one router's (or the "
                "destination's) rate-limited ICMP errors"
            ),
        ),
    )


def latency(ev: Evidence) -> Iterator[Finding]:
    ping = ev.data("ping", PingData)
    if ping is None:
        return
    limit = LATENCY_S
    # The median, not the mean: the first packet waiting for ARP/NDP is not latency.
    slow = [h for h in ping.hosts if h.median_s is not None and h.median_s >= limit]
    if not slow:
        return
    host = slow[0]
    avg = host.median_s or 0.0
    trace = ev.data("trace", TraceData)
    where, steps = "", []
    if trace and trace.reached and trace.address == host.address:
        dest_avg = trace.hops[-1].avg_s or avg
        start = None
        for h in reversed(trace.hops):
            if h.avg_s is None:
                continue
            if h.avg_s >= dest_avg / 2:
                start = h
            else:
                break
        if start is not None:
            prev = trace.hops[start.ttl - 2].address if start.ttl >= 2 else "this host"
            where = f", added at hop {start.ttl} ({start.address})"
            steps.append(
                NextStep(
                    f"The delay appears between {prev} and {start.address}: check that link's load and queueing",
                    "ip -s link",
                )
            )
    steps.append(NextStep("Watch latency per hop over time", f"mtr -n -r -c 50 {q(host.address)}"))
    evidence = [_ping_line(h) for h in ping.hosts]
    evidence += _trace_lines(trace) if trace else []
    yield Finding(
        "path.latency",
        Severity.WARNING,
        f"round trips to {host.address} take {clocked(avg, host.clock)} (median){where}",
        tuple(evidence),
        tuple(steps),
    )


def mtu_blackhole(ev: Evidence) -> Iterator[Finding]:
    data = ev.data("mtu", MtuData)
    if data is None or not data.blackhole or data.path_mtu is None:
        return
    v6 = ":" in data.address
    size = data.path_mtu
    payload = size - (48 if v6 else 28)
    mss = size - (60 if v6 else 40)
    ping = "ping -6" if v6 else "ping"
    yield Finding(
        "path.mtu_blackhole",
        Severity.ERROR,
        f"packets over {size} bytes to {data.address} vanish and no router says 'fragmentation needed' (PMTU black hole)",
        (
            data.explanation,
            f"this host's MTU towards {data.address}: {data.local_mtu}; largest packet that passes: {size}; "
            f"smallest that vanishes: {data.smallest_lost}",
        ),
        (
            NextStep(
                "Confirm: the first passes, the second vanishes",
                f"{ping} -M do -c 3 -s {payload} {q(data.address)}; {ping} -M do -c 3 -s {payload + 1} {q(data.address)}",
            ),
            NextStep(
                f"Clamp TCP MSS to {mss} on the router (or this host) so TCP never sends more",
                f"nft add rule inet filter forward tcp flags syn tcp option maxseg size set {mss}",
            ),
            NextStep(
                f"Or lower this host's route MTU towards {data.address} to {size}",
                f"ip route add {q(data.address)} via <gateway> mtu lock {size}",
            ),
            NextStep(
                "Fix the cause: let ICMP 'fragmentation needed' / 'packet too big' through the firewalls on the path"
            ),
        ),
    )


def no_raw_socket(ev: Evidence) -> Iterator[Finding]:
    modes = []
    for name in ("ping", "trace", "mtu"):
        result = ev.results.get(name)
        data = result.data if result and result.final else None
        if isinstance(data, PingData | TraceData | MtuData) and not data.privileged:
            modes.append(f"{name}: ran in {data.mode} mode")
    for name in ("ping", "trace", "mtu"):
        result = ev.results.get(name)
        if (
            result
            and result.final
            and result.data is None
            and ("raw sockets" in result.summary or result.summary.startswith("cannot "))
        ):
            modes.append(f"{name}: {result.summary}")
    if not modes:
        return
    yield Finding(
        "privilege.no_raw_socket",
        Severity.INFO,
        "raw sockets are not available: path probes used unprivileged fallbacks",
        tuple(modes),
        (
            NextStep("Run with privileges for ICMP/TCP traceroute and ICMP ping", "sudo netmedic"),
            NextStep(
                "Or give the interpreter CAP_NET_RAW",
                'sudo setcap cap_net_raw+ep "$(readlink -f "$(command -v python3)")"',
            ),
            NextStep(
                "Or allow unprivileged ICMP echo sockets",
                "sudo sysctl -w net.ipv4.ping_group_range='0 2147483647'",
            ),
        ),
    )


def path_ok(ev: Evidence) -> Iterator[Finding]:
    ping = ev.data("ping", PingData)
    if ping is None or not ping.hosts:
        return
    if any(h.stats.loss_pct > 0 or not h.stats.received for h in ping.hosts):
        return
    yield Finding(
        "path.ok",
        Severity.OK,
        "the path answers without loss",
        tuple(_ping_line(h) for h in ping.hosts),
    )


RULES = (
    unreachable,
    host_down,
    send_failed,
    silent_destination,
    mtu_blackhole,
    loss,
    rate_limited,
    latency,
    no_raw_socket,
    path_ok,
)
