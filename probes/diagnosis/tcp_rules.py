"""TCP rules: refused, filtered, unreachable, IPv6-only breakage, instant hang-ups."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

from probes.core.model import Finding, NextStep, Severity
from probes.diagnosis.evidence import Evidence, ms, q
from probes.diagnosis.owner_steps import owner_or, port_owner
from probes.host.firewall import FirewallData, FirewallRule
from probes.net.tcp import (
    ERROR,
    FILTERED,
    LOCAL_ERROR,
    OPEN,
    REFUSED,
    UNREACHABLE,
    TcpAttempt,
    TcpData,
    hung_up,
)
from probes.path.ping import PingData
from probes.path.route import RouteData
from probes.proto.sampler import RESET as SAMPLED_RESET
from probes.proto.sampler import SamplerData


def _where(a: TcpAttempt) -> str:
    return f"[{a.address}]:{a.port}" if a.family == 6 else f"{a.address}:{a.port}"


def _line(a: TcpAttempt) -> str:
    text = f"{_where(a)} {a.state}"
    if a.errno_name:
        text += f" ({a.errno_name})"
    text += f" after {a.connect_text if a.state == OPEN else ms(a.elapsed_s)}"
    if a.explanation:
        text += f": {a.explanation}"
    return text


def _unrouted(ev: Evidence) -> set[str]:
    route = ev.data("route", RouteData)
    return {r.address for r in route.routes if not r.routable} if route else set()


def _firewall_rules(ev: Evidence) -> dict[str, list[FirewallRule]]:
    """This host's output rules that drop/reject the target, by address."""
    data = ev.data("firewall", FirewallData)
    out: dict[str, list[FirewallRule]] = {}
    for rule in data.rules if data else ():
        out.setdefault(rule.address, []).append(rule)
    return out


def _norm(address: str) -> str:
    try:
        return str(ipaddress.ip_address(address.split("%", 1)[0]))
    except ValueError:
        return address


def _rule_without_failure(
    data: TcpData | None, rules: dict[str, list[FirewallRule]]
) -> Iterator[Finding]:
    """A rule that seems to block the target while no connect failed (or none ran)."""
    rule = next(iter(rules.values()))[0]
    opened = [a for a in data.attempts if a.state == OPEN] if data else []
    evidence = [f"{rule.where}: {rule.text}", *(_line(a) for a in opened)]
    if opened:
        title = (
            f"this host's firewall has a rule that looks like it {rule.verdict}s TCP to "
            f"{rule.address}, yet the connection works (the rule's other conditions do not match)"
        )
        severity = Severity.INFO
    else:
        title = f"this host's own firewall {rule.verdict}s TCP to {rule.address}: {rule.text}"
        severity = Severity.WARNING
    yield Finding(
        "local.firewall_blocked",
        severity,
        title,
        tuple(evidence),
        (NextStep(f"Inspect the rule ({rule.where})", rule.inspect_command),),
    )


def local_firewall(ev: Evidence) -> Iterator[Finding]:
    """A failed connect plus a rule on this host that blocks it: the rule is the cause."""
    data = ev.data("tcp", TcpData)
    rules = _firewall_rules(ev)
    if not rules:
        return
    if data is None:
        yield from _rule_without_failure(None, rules)
        return
    blocked = [a for a in data.attempts if a.state != OPEN and _norm(a.address) in rules]
    if not blocked:
        yield from _rule_without_failure(data, rules)
        return
    a = blocked[0]
    rule = rules[_norm(a.address)][0]
    maybe = "" if rule.certain else " (if its other conditions match this traffic)"
    evidence = [_line(x) for x in data.attempts]
    for x in blocked:
        for r in rules[_norm(x.address)]:
            evidence.append(f"{r.where}: {r.text}")
    steps = [
        NextStep(f"Inspect the rule ({rule.where})", rule.inspect_command),
        NextStep(
            f"If the rule is not meant for {_where(a)}, change or delete it "
            "(or add an accept rule before it), then try again"
        ),
    ]
    if rule.backend == "nft":
        steps.append(NextStep("See every rule on this host's output path", "nft -a list ruleset"))
    yield Finding(
        "local.firewall_blocked",
        Severity.ERROR,
        f"this host's own firewall {rule.verdict}s connections to {_where(a)}{maybe}: "
        f"{rule.where}: {rule.text}",
        tuple(evidence),
        tuple(steps),
    )


def connect_failures(ev: Evidence) -> Iterator[Finding]:
    data = ev.data("tcp", TcpData)
    if data is None:
        return
    attempts = list(data.attempts)
    opened = [a for a in attempts if a.state == OPEN]
    locally_blocked = set(_firewall_rules(ev))
    failed = [
        a
        for a in attempts
        if a.state != OPEN
        and a.address not in _unrouted(ev)
        and _norm(a.address) not in locally_blocked
    ]
    if not failed:
        return
    v4_ok = any(a.family == 4 for a in opened)
    v6_failed = [a for a in failed if a.family == 6]
    if v4_ok and v6_failed and len(v6_failed) == len(failed) and not ev.target.is_ip:
        yield _ipv6_broken(ev, opened, v6_failed)
        return
    severity = Severity.WARNING if opened else Severity.ERROR
    context = tuple(_line(a) for a in attempts)
    port = ev.target.port
    host = ev.target.host

    refused = [a for a in failed if a.state == REFUSED]
    admin = [a for a in failed if a.state == UNREACHABLE and a.icmp and a.icmp.admin_prohibited]
    icmp_other = [
        a for a in failed if a.state == UNREACHABLE and a.icmp and not a.icmp.admin_prohibited
    ]
    local_fw = [
        a
        for a in failed
        if a.state == UNREACHABLE and a.icmp is None and a.errno_name in ("EACCES", "EPERM")
    ]
    no_icmp_unreach = [
        a for a in failed if a.state == UNREACHABLE and a.icmp is None and a not in local_fw
    ]
    filtered = [a for a in failed if a.state == FILTERED]
    local = [a for a in failed if a.state == LOCAL_ERROR]
    other = [a for a in failed if a.state == ERROR]

    if admin:
        a = admin[0]
        sender = a.icmp.sender if a.icmp else "?"
        yield Finding(
            "path.admin_prohibited",
            severity,
            f"a firewall at {sender} rejects connections to {_where(a)} (ICMP {a.icmp.name if a.icmp else ''})",
            context,
            (
                NextStep(
                    f"Ask the owner of {sender} to allow TCP port {port} to {a.address}; on that box list the rules",
                    "nft list ruleset",
                ),
                NextStep(
                    "On an iptables firewall, find the REJECT rule",
                    "iptables -L -n -v --line-numbers",
                ),
                NextStep(
                    "See the path to the firewall", f"traceroute -n -T -p {port} {q(a.address)}"
                ),
            ),
        )
    if icmp_other:
        a = icmp_other[0]
        sender = a.icmp.sender if a.icmp else "?"
        yield Finding(
            "path.unreachable",
            severity,
            f"router {sender} says {a.address} is unreachable (ICMP {a.icmp.name if a.icmp else ''})",
            context,
            (
                NextStep("See where the path stops", f"traceroute -n {q(a.address)}"),
                NextStep(
                    f"On {sender}, check its route to {a.address}", f"ip route get {q(a.address)}"
                ),
            ),
        )
    if no_icmp_unreach:
        a = no_icmp_unreach[0]
        yield Finding(
            "path.unreachable",
            severity,
            f"{_where(a)} is unreachable ({a.errno_name})",
            context,
            (
                NextStep("See where the path stops", f"traceroute -n {q(a.address)}"),
                NextStep("Check the local neighbour table (ARP/NDP) for the gateway", "ip neigh"),
            ),
        )
    if local_fw:
        a = local_fw[0]
        yield Finding(
            "local.firewall_blocked",
            severity,
            f"a firewall rule on this host blocks connections to {_where(a)} ({a.errno_name})",
            context,
            (
                NextStep(
                    "List this host's nftables rules (look at the output chain)", "nft list ruleset"
                ),
                NextStep("Or the iptables OUTPUT chain", "iptables -L OUTPUT -n -v --line-numbers"),
            ),
        )
    if refused:
        a = refused[0]
        owner = port_owner(ev)
        yield Finding(
            "tcp.refused",
            severity,
            f"nothing accepts connections on {_where(a)}: the SYN was answered with a reset",
            (*context, *([owner.why] if owner else [])),
            (
                NextStep(
                    f"On {host}, check whether anything listens on port {port}",
                    f"ss -tlnp 'sport = :{port}'",
                ),
                *owner_or(
                    owner,
                    NextStep(
                        "Check that the service is running (and why it stopped)",
                        "systemctl --failed",
                    ),
                ),
                NextStep("Check the port number in the client's configuration"),
                NextStep(
                    "If the service runs, check it listens on the right address (not 127.0.0.1 only)"
                ),
                NextStep(
                    "A firewall can also forge the reset ('reject with tcp reset'): trace with TCP",
                    f"traceroute -n -T -p {port} {q(a.address)}",
                ),
            ),
        )
    if filtered:
        a = filtered[0]
        yield Finding(
            "tcp.filtered",
            severity,
            f"connections to {_where(a)} get no answer: dropped by a firewall, or the host is down",
            context,
            (
                NextStep(
                    "Find where the SYN stops: trace with TCP to the port",
                    f"traceroute -n -T -p {port} {q(a.address)}",
                ),
                NextStep("Check whether the host answers at all", f"ping -c 3 {q(a.address)}"),
                NextStep(
                    f"On {host}, check the firewall for port {port} (a DROP rule)",
                    "nft list ruleset",
                ),
                NextStep("Check security groups / cloud firewalls between here and the server"),
            ),
        )
    if other:
        a = other[0]
        yield Finding(
            "tcp.connect_error",
            severity,
            f"connecting to {_where(a)} failed with {a.errno_name or 'an error'}: {a.explanation}",
            context,
            (
                NextStep("Try the same connect by hand", f"nc -vz -w 3 {q(a.address)} {port}"),
                NextStep("Look for the errno in this host's kernel log", "dmesg -T | tail -n 50"),
            ),
        )
    if local:
        a = local[0]
        yield Finding(
            "local.client_exhausted",
            Severity.ERROR,
            f"this host could not open a connection: {a.explanation}",
            context,
            (
                NextStep("Count this host's connections by state", "ss -s"),
                NextStep("Check the ephemeral port range", "sysctl net.ipv4.ip_local_port_range"),
                NextStep("Check the open-files limit", "ulimit -n"),
            ),
        )


def _ipv6_broken(ev: Evidence, opened: list[TcpAttempt], v6_failed: list[TcpAttempt]) -> Finding:
    port = ev.target.port
    a = v6_failed[0]
    evidence = [_line(x) for x in (*v6_failed, *opened)]
    ping = ev.data("ping", PingData)
    for h in ping.hosts if ping else ():
        s = h.stats
        line = f"ping {h.address}: {s.received}/{s.sent} answered"
        evidence.append(line + (f"; unreachable from {h.unreachable}" if h.unreachable else ""))
    return Finding(
        "tcp.ipv6_broken",
        Severity.ERROR,
        f"{ev.target.host} has IPv6 and IPv4 addresses; IPv6 fails ({a.state}) while IPv4 works",
        tuple(evidence),
        (
            NextStep("Confirm over IPv6", f"nc -6 -zv -w 3 {q(a.address)} {port}"),
            NextStep("Check this host's IPv6 route", f"ip -6 route get {q(a.address)}"),
            NextStep(
                "Clients that try IPv6 first will hang or fail: fix IPv6 on the path, or remove the AAAA record until it works"
            ),
        ),
    )


def _hangup_line(a: TcpAttempt) -> str:
    line = f"{_where(a)}: connected in {a.connect_text}"
    if a.closed_by_peer:
        how = "reset (RST)" if a.closed_by_peer == "reset" else "closed (FIN)"
        after = f" {ms(a.closed_after_s)} later" if a.closed_after_s else " at once"
        line += f", then the server {how} it{after}, before we sent anything"
    else:
        line += ", and the connection stayed open"
    if a.repeats:
        line += f"; {len(a.repeats)} more quick connects: {', '.join(a.repeats)}"
    return line


def _sampled_hangups(ev: Evidence, address: str) -> tuple[int, int]:
    """(reset, attempts) in the connection sampler's window to *address* (0, 0: none)."""
    data = ev.data("connections", SamplerData)
    if data is None or data.address != address:
        return 0, 0
    return dict(data.kinds).get(SAMPLED_RESET, 0), data.judged  # starved ones say nothing


def hangup_after_connect(ev: Evidence) -> Iterator[Finding]:
    data = ev.data("tcp", TcpData)
    if data is None:
        return
    dropped = [a for a in data.attempts if a.state == OPEN and hung_up(a)]
    if not dropped:
        return
    a = dropped[0]
    outcomes = [a.closed_by_peer or "ok", *a.repeats]
    bad = sum(o in ("reset", "eof") for o in outcomes)
    how = "resets" if "reset" in outcomes else "closes"
    # The title counts what was seen — with the connection sampler's window beside the
    # probe's own connects: "resets 17 of 37", never "every connection" when some passed.
    sampled_bad, sampled = _sampled_hangups(ev, a.address)
    bad, total = bad + sampled_bad, len(outcomes) + sampled
    title = f"{_where(a)} {how} {bad} of {total} connections right after accepting them"
    if bad == total:
        severity = Severity.ERROR
    else:
        title += " (intermittent)"
        severity = Severity.WARNING
    owner = port_owner(ev)
    yield Finding(
        "tcp.reset_after_connect",
        severity,
        title,
        (
            *(_hangup_line(x) for x in dropped),
            *([f"connection sampler: {sampled_bad} of {sampled} reset"] if sampled else []),
            *([owner.why] if owner else []),
        ),
        (
            *(owner.steps if owner else ()),  # its logs name why it hangs up
            NextStep(
                "Check the service's connection limit and its logs (max connections, worker "
                "pool, tcp wrappers, IP allow lists)"
            ),
            NextStep(
                "See whether the server expects TLS or another protocol",
                f"openssl s_client -connect {q(ev.target.host_port)} -brief",
            ),
            NextStep(
                "Count connections on the server's port", f"ss -tan 'sport = :{a.port}' | wc -l"
            ),
            NextStep(
                "Watch the resets on the wire",
                f"tcpdump -ni any 'tcp port {a.port} and tcp[tcpflags] & (tcp-rst|tcp-fin) != 0'",
            ),
        ),
    )


def connect_ok(ev: Evidence) -> Iterator[Finding]:
    data = ev.data("tcp", TcpData)
    if data is None or not data.attempts or any(a.state != OPEN for a in data.attempts):
        return
    if any(hung_up(a) or REFUSED in a.repeats for a in data.attempts):
        return  # not every connection succeeded (repeat_rules says which were refused)
    evidence = []
    for a in data.attempts:
        line = f"{_where(a)} open in {a.connect_text}"
        if a.protocol:
            line += f"; the server speaks {a.protocol}"
        if a.banner:
            line += f" (banner: {a.banner})"
        evidence.append(line)
    yield Finding(
        "tcp.open",
        Severity.OK,
        f"TCP connections to port {data.port} succeed",
        tuple(evidence),
    )


RULES = (local_firewall, connect_failures, hangup_after_connect, connect_ok)
