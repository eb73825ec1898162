"""Local rules: what this host's own listeners, connections and limits explain.

They read :class:`probes.host.local.LocalData`.  A target on this host gets the
listener findings (nothing listening, loopback only, queue full, files
exhausted, a port held by the wrong process); every target gets the
client-side ones (ephemeral ports, CLOSE_WAIT, file descriptors) and the
host-wide ones (OOM kills, memory pressure).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from probes.core.model import Finding, NextStep, Severity
from probes.diagnosis.evidence import Evidence, q
from probes.diagnosis.own_connections import left_out, own_ends, split
from probes.diagnosis.owner_steps import container_steps, service_steps, unit_steps
from probes.host.local import FORWARDERS, PILE_UP, Listener, LocalData, name_matches
from probes.host.owner import Forward
from probes.host.procinfo import ProcessInfo
from probes.host.system import OomKill
from probes.net.tcp import FILTERED, OPEN, TcpData

CLOSE_WAIT_WARN = PILE_UP  # CLOSE_WAIT sockets on one port before it is a pile-up
SYN_RECV_WARN = 256  # half-open connections on one port that are a flood whatever the backlog
SYN_RECV_MIN = 16
FD_WARN, FD_ERROR = 0.80, 0.95
EPHEMERAL_WARN, EPHEMERAL_ERROR = 0.80, 0.95
BACKLOG_WARN = 0.80
OOM_RECENT_S = 24 * 3600
# A kill this recent, of a process that fits the port, with nothing listening
# now, is the cause (the verdict); older or unrelated kills are context (info).
OOM_CAUSE_S = 3600

# Where a service's bind address is set, for the loopback-only fix.
BIND_HINTS: dict[str, str] = {
    "postgresql": "set listen_addresses in postgresql.conf (and allow the client in pg_hba.conf)",
    "mysql": "set bind-address in the [mysqld] section of my.cnf",
    "redis": "set 'bind' in redis.conf (and protected-mode)",
    "mongodb": "set net.bindIp in mongod.conf",
    "memcached": "set -l / LISTEN in memcached's options",
    "elasticsearch": "set network.host in elasticsearch.yml",
    "rabbitmq": "set listeners.tcp in rabbitmq.conf",
}


def _data(ev: Evidence) -> LocalData | None:
    return ev.data("local", LocalData)


def _owner(data: LocalData, x: Listener) -> str:
    """Who holds a listener, or why that cannot be said."""
    if x.pids:
        proc = data.process(x.pids[0])
        user = f", user {proc.user}" if proc and proc.user else ""
        more = f" and {len(x.pids) - 1} more" if len(x.pids) > 1 else ""
        return f"{x.process or '?'} (pid {x.pids[0]}{user}){more}"
    if data.owners_hidden and not data.privileged:
        return (
            f"socket owned by uid {x.uid}, process not visible without root: "
            f"run with sudo to see which process owns port {x.port}"
        )
    return "no process on this host holds it (another PID namespace: a container or VM?)"


def _listener_line(data: LocalData, x: Listener) -> str:
    line = f"{x.proto.upper()} {x.endpoint} ← {_owner(data, x)}"
    if x.proto == "tcp" and x.backlog >= 0:
        line += f"; accept queue {x.queue}/{x.backlog}"
    return line


def _hidden_steps(data: LocalData, port: int) -> list[NextStep]:
    if data.owners_hidden and not data.privileged:
        return [
            NextStep(
                f"Run with sudo to see which process owns port {port}",
                f"sudo ss -tlnp 'sport = :{port}'",
            )
        ]
    return []


def _expected_units(data: LocalData) -> tuple[list[str], list[NextStep]]:
    """Evidence and steps for the units and containers that should serve the port."""
    evidence = [f"{u.unit} names port {data.target.port} ({u.path}: {u.line})" for u in data.units]
    steps: list[NextStep] = []
    for u in data.units[:2]:
        steps += unit_steps(u.unit)
    for c in data.containers[:2]:
        state = {True: "running", False: "stopped", None: "state unknown"}[c.running]
        evidence.append(
            f"container {c.name} ({state}) publishes port {data.target.port} "
            f"(read from {data.containers_source})"
        )
        steps += container_steps(c.runtime, c.name, c.compose_project, c.compose_service)
    return evidence, steps


def _forward_steps(data: LocalData, f: Forward) -> list[NextStep]:
    steps = [NextStep(f"See the rule ({f.where})", f.inspect_command)]
    if f.container:
        box = next((c for c in data.containers if c.name == f.container), None)
        steps += container_steps(
            box.runtime if box else "docker",
            f.container,
            box.compose_project if box else "",
            box.compose_service if box else "",
        )
    return steps


def _nobody_has(data: LocalData) -> str:
    if data.containers_source:
        return f"no container has that address (read from {data.containers_source})"
    return "no container has that address (no docker or podman containers on this host)"


def forward_to_nothing(ev: Evidence, data: LocalData) -> Finding | None:
    """The port is DNATed, and the connection through the rule fails: the
    forward points at something gone (typically a removed container)."""
    view = data.target
    if not data.forwards or not _tcp_failed_on(ev, view.local_addresses):
        return None
    f = data.forwards[0]
    if f.container:
        state = "stopped" if f.container_running is False else "running"
        where = f"the container {f.container} ({state}), which does not answer"
    else:
        where = f"{f.destination}, and {_nobody_has(data)}"
    evidence = [
        f"DNAT rule ({f.where}): {f.text}",
        f"connections to port {view.port} are sent to {f.destination}",
        f"the TCP probe to {', '.join(view.local_addresses)}:{view.port} failed",
    ]
    if not f.container:
        evidence.append(_nobody_has(data))
    evidence += [f"another DNAT rule ({g.where}): {g.text}" for g in data.forwards[1:3]]
    steps = _forward_steps(data, f)
    if not f.container:
        steps += [
            NextStep(
                "Find what should have that address (a removed container leaves its rule if "
                "the runtime did not clean up)",
                f"ip neigh show to {q(f.to_address)}",
            ),
            NextStep(
                "Start the service that should be there, or delete the stale rule (restarting "
                "the container runtime rebuilds its rules)"
            ),
        ]
    steps += _expected_units(data)[1]
    return Finding(
        "local.forwarded",
        Severity.ERROR,
        f"port {view.port} is forwarded to {where}",
        tuple(evidence),
        tuple(steps),
    )


def _first_process(data: LocalData, listeners: Iterable[Listener]) -> ProcessInfo | None:
    for x in listeners:
        if x.pids:
            proc = data.process(x.pids[0])
            if proc is not None:
                return proc
    return None


def _tcp_open_on(ev: Evidence, addresses: Iterable[str]) -> tuple[str, ...]:
    """Those of *addresses* the TCP probe connected to."""
    tcp = ev.data("tcp", TcpData)
    wanted = set(addresses)
    if tcp is None:
        return ()
    return tuple(dict.fromkeys(a.address for a in tcp.attempts if a.ok and a.address in wanted))


def _forwarded(data: LocalData, port: int, answered: tuple[str, ...]) -> Finding:
    """Connections succeed although no socket here listens: NAT forwards them."""
    return Finding(
        "local.forwarded",
        Severity.INFO,
        f"{answered[0]}:{port} answers, but no socket on this host listens there: "
        "the connection is forwarded (DNAT: docker, kube-proxy, a port-forward rule)",
        (
            f"the TCP probe connected to {', '.join(answered)} on port {port}",
            f"no listening socket accepts on it ({data.listeners_total} "
            f"listener{'' if data.listeners_total == 1 else 's'}, read via {data.source})",
            *(
                f"DNAT rule ({f.where}): {f.text}"
                + (f" → container {f.container}" if f.container else "")
                for f in data.forwards[:3]
            ),
        ),
        (
            *(step for f in data.forwards[:1] for step in _forward_steps(data, f)),
            NextStep(
                f"Find the NAT rule for port {port}", f"nft list ruleset | grep -n 'dport {port}'"
            ),
            NextStep("Or with iptables", f"iptables -t nat -S | grep -e '--dport {port}'"),
            *(
                [NextStep("A container publishing it?", f"docker ps --filter publish={port}")]
                if "docker" in data.tools
                else []
            ),
        ),
    )


def _tcp_failed_on(ev: Evidence, addresses: Iterable[str]) -> bool:
    tcp = ev.data("tcp", TcpData)
    wanted = set(addresses)
    return tcp is not None and any(a.state != OPEN and a.address in wanted for a in tcp.attempts)


# -- listener rules (target on this host) -------------------------------------------


def not_listening(ev: Evidence) -> Iterator[Finding]:
    data = _data(ev)
    if data is None or not data.target.local or data.target.tcp_listeners:
        return
    view = data.target
    port = view.port
    answered = _tcp_open_on(ev, view.local_addresses)
    if answered:
        yield _forwarded(data, port, answered)
        return
    broken = forward_to_nothing(ev, data)
    if broken is not None:
        yield broken
        return
    evidence = [
        f"{', '.join(view.local_addresses)} is this host; no TCP socket listens on port {port} "
        f"(of {data.listeners_total} listening socket{'' if data.listeners_total == 1 else 's'}, "
        f"read via {data.source})"
    ]
    for x in view.listeners:  # UDP only, since no TCP listener is on the port
        evidence.append(f"UDP {x.endpoint} is bound by {_owner(data, x)}: it speaks UDP, not TCP")
    for pid in view.lookalikes:
        proc = data.process(pid)
        if proc is None:
            continue
        ports = sorted({x.port for x in data.listeners if pid in x.pids and x.proto == "tcp"})
        where = (
            f"listens on TCP {', '.join(map(str, ports))}"
            if ports
            else "listens on no TCP port (a UNIX socket only, or still starting)"
        )
        evidence.append(f"{proc.name} (pid {pid}) runs and {where}: {proc.cmdline}")
    for x in view.nearby:
        evidence.append(f"nearby: {_listener_line(data, x)}")
    unit_evidence, unit_steps = _expected_units(data)
    evidence += unit_evidence
    steps: list[NextStep] = [*unit_steps, NextStep("List every listening TCP socket", "ss -tlnp")]
    look = data.process(view.lookalikes[0]) if view.lookalikes else None
    steps += service_steps(data, look)
    if view.service and "systemd" in data.tools and not data.units:
        steps.append(
            NextStep(
                f"Find the {view.service} unit and whether it failed",
                f"systemctl list-units --all --type=service {q('*' + view.service + '*')}",
            )
        )
    if "docker" in data.tools and not data.containers:
        steps.append(
            NextStep(
                f"A container that should publish port {port}?",
                f"docker ps -a --filter publish={port}",
            )
        )
    steps.append(
        NextStep(
            "Check the port in the service's and the client's configuration; start the service and "
            "watch its log for 'Address already in use' or a crash"
        )
    )
    what = f"nothing listens on TCP port {port} on this host"
    if data.units:
        what += f"; {data.units[0].unit} should"
    if view.nearby and view.lookalikes and set(view.nearby[0].pids) & set(view.lookalikes):
        what += f" ({view.nearby[0].process} listens on {view.nearby[0].port})"
    yield Finding("local.not_listening", Severity.ERROR, what, tuple(evidence), tuple(steps))


def wrong_address(ev: Evidence) -> Iterator[Finding]:
    data = _data(ev)
    if data is None or not data.target.local:
        return
    view = data.target
    tcp = view.tcp_listeners
    if not tcp or not view.not_accepted_on:
        return
    port = view.port
    answered = _tcp_open_on(ev, view.not_accepted_on)
    if answered:
        yield _forwarded(data, port, answered)
    missed = tuple(a for a in view.not_accepted_on if a not in answered)
    if not missed:
        return
    severity = (
        Severity.ERROR if not view.accepted_on or _tcp_failed_on(ev, missed) else Severity.WARNING
    )
    proc = _first_process(data, tcp)
    evidence = [_listener_line(data, x) for x in tcp]
    evidence.append(
        f"the target address {', '.join(missed)} is this host's, and no listener accepts on it"
    )
    if view.accepted_on:
        evidence.append(f"accepted on: {', '.join(view.accepted_on)}")
    steps = [NextStep(f"See where port {port} listens", f"ss -tlnp 'sport = :{port}'")]
    steps += _hidden_steps(data, port)
    hint = BIND_HINTS.get(view.service, "")
    loopback_only = all(x.loopback for x in tcp) and any(not _loopback(a) for a in missed)
    who = tcp[0].process or "the service"
    if loopback_only:
        steps.append(
            NextStep(
                f"Make {who} listen on {missed[0]} or on all addresses (0.0.0.0 / ::)"
                + (f": {hint}" if hint else "; the option is often called bind, listen or host")
            )
        )
        steps += service_steps(data, proc)
        yield Finding(
            "local.loopback_only",
            severity,
            f"{who} listens on {', '.join(x.endpoint for x in tcp)} only: "
            f"connections to {missed[0]}:{port} cannot reach it",
            tuple(evidence),
            tuple(steps),
        )
        return
    families = {x.family for x in tcp}
    wanted_families = {6 if ":" in a else 4 for a in missed}
    if not families & wanted_families:
        evidence.append(
            f"the listeners are IPv{'/'.join(map(str, sorted(families)))} only; "
            f"the target address is IPv{'/'.join(map(str, sorted(wanted_families)))}"
        )
    steps.append(
        NextStep(
            f"Make {who} listen on {missed[0]} too (or on all addresses), or point the client at "
            f"{tcp[0].address}"
        )
    )
    steps += service_steps(data, proc)
    yield Finding(
        "local.bound_elsewhere",
        severity,
        f"port {port} listens on {', '.join(x.endpoint for x in tcp)}, not on {', '.join(missed)}",
        tuple(evidence),
        tuple(steps),
    )


def _loopback(address: str) -> bool:
    return address.startswith("127.") or address == "::1"


def backlog_full(ev: Evidence) -> Iterator[Finding]:
    data = _data(ev)
    if data is None or not data.target.local:
        return
    view = data.target
    for x in view.serving:
        if x.backlog < 0:
            continue
        full = x.queue > x.backlog or (x.backlog > 0 and x.queue >= x.backlog)
        near = x.backlog >= 10 and x.queue >= BACKLOG_WARN * x.backlog
        if not (full or near):
            continue
        evidence = [
            f"{x.endpoint}: accept queue {x.queue}/{x.backlog} "
            f"({'full: new connections are dropped' if full else 'nearly full'})",
            f"owner: {_owner(data, x)}",
            f"the backlog is min(listen() backlog, net.core.somaxconn = {data.limits.somaxconn})",
        ]
        overflows = data.counters.get("ListenOverflows", -1)
        if overflows >= 0:
            evidence.append(f"TcpExt ListenOverflows = {overflows} since boot (this namespace)")
        tcp = ev.data("tcp", TcpData)
        if tcp is not None:
            for a in tcp.attempts:
                if a.state == FILTERED and x.accepts(a.address):
                    evidence.append(
                        f"the test connection to {a.address}:{a.port} got no answer: "
                        "SYNs are dropped while the queue is full"
                    )
        proc = _first_process(data, [x])
        pid = x.pids[0] if x.pids else None
        steps = [
            NextStep(
                "Watch the queue (Recv-Q) against the backlog (Send-Q)",
                f"ss -tln 'sport = :{x.port}'",
            ),
            NextStep(
                "Count dropped connections", "nstat -az TcpExtListenOverflows TcpExtListenDrops"
            ),
        ]
        if pid is not None:
            steps.append(
                NextStep(
                    f"{x.process or 'The process'} does not call accept() fast enough: see what "
                    "its threads are doing (stuck, busy, blocked on a database?)",
                    f"top -H -p {pid}",
                )
            )
        steps += _hidden_steps(data, x.port)
        steps.append(
            NextStep(
                "If it is merely busy, raise the listen backlog in its configuration (capped by "
                "net.core.somaxconn)",
                "sysctl net.core.somaxconn",
            )
        )
        steps += service_steps(data, proc)
        yield Finding(
            "tcp.backlog_full",
            Severity.ERROR if full else Severity.WARNING,
            f"{x.endpoint} {'accepts no more connections' if full else 'is close to refusing connections'}: "
            f"accept queue {x.queue}/{x.backlog}",
            tuple(evidence),
            tuple(steps),
        )
        return


def fd_exhausted(ev: Evidence) -> Iterator[Finding]:
    data = _data(ev)
    if data is None:
        return
    view = data.target
    candidates: list[tuple[ProcessInfo, str]] = []
    if view.local:
        for x in view.serving:
            for pid in x.pids[:1]:
                proc = data.process(pid)
                if proc:
                    candidates.append((proc, f"listens on {x.endpoint}"))
    for pid in view.client_pids:
        proc = data.process(pid)
        if proc:
            candidates.append((proc, f"is connected to {view.addresses[0]}:{view.port}"))
    seen: set[int] = set()
    for proc, role in candidates:
        if proc.pid in seen or proc.open_files < 0 or proc.fd_limit <= 0:
            continue
        seen.add(proc.pid)
        use = proc.fd_use
        left = proc.fd_limit - proc.open_files
        if use < FD_WARN and left > 4:
            continue
        severity = Severity.ERROR if use >= FD_ERROR or left <= 4 else Severity.WARNING
        yield Finding(
            "local.fd_exhausted",
            severity,
            f"{proc.name} (pid {proc.pid}) has {proc.open_files} of {proc.fd_limit} open files: "
            + (
                "new connections fail with EMFILE"
                if severity is Severity.ERROR
                else "close to its limit"
            ),
            (
                f"{proc.name} (pid {proc.pid}) {role}",
                f"{proc.open_files} of {proc.fd_limit} open files (soft RLIMIT_NOFILE; hard {proc.fd_limit_hard})",
                f"command: {proc.cmdline}",
            ),
            (
                NextStep("Count its open files", f"ls /proc/{proc.pid}/fd | wc -l"),
                NextStep("See its limit", f"grep 'open files' /proc/{proc.pid}/limits"),
                NextStep(
                    "Look for a descriptor leak (what kinds of files it holds)",
                    f"ls -l /proc/{proc.pid}/fd | awk '{{print $NF}}' | cut -d: -f1 | sort | uniq -c | sort -rn | head",
                ),
                *_limit_steps(data, proc),
            ),
        )
        return
    lim = data.limits
    if lim.files_max > 0 and lim.files_open >= FD_WARN * lim.files_max:
        yield Finding(
            "local.fd_exhausted",
            Severity.ERROR if lim.files_open >= FD_ERROR * lim.files_max else Severity.WARNING,
            f"this host has {lim.files_open} of {lim.files_max} file handles allocated (fs.file-max)",
            (f"/proc/sys/fs/file-nr: {lim.files_open} allocated, max {lim.files_max}",),
            (
                NextStep("See the system-wide file handles", "cat /proc/sys/fs/file-nr"),
                NextStep(
                    "Find the processes with most open files",
                    'for p in /proc/[0-9]*; do echo "$(ls $p/fd 2>/dev/null | wc -l) $p"; done | sort -rn | head',
                ),
            ),
        )


def _limit_steps(data: LocalData, proc: ProcessInfo) -> list[NextStep]:
    if proc.unit and "systemd" in data.tools:
        return [
            NextStep(
                f"See the limit systemd gives {proc.unit}; raise it with LimitNOFILE= in a drop-in",
                f"systemctl show {q(proc.unit)} -p LimitNOFILE",
            )
        ]
    if proc.container and "docker" in data.tools:
        return [
            NextStep(
                "See the container's ulimits (raise with --ulimit nofile=...)",
                f"docker inspect --format '{{{{.HostConfig.Ulimits}}}}' {q(proc.container)}",
            )
        ]
    return [
        NextStep(
            f"Raise the limit where {proc.name} is started (ulimit -n, LimitNOFILE=, "
            "limits.conf), after ruling out a leak"
        )
    ]


# -- connection-state rules ----------------------------------------------------------


def close_wait(ev: Evidence) -> Iterator[Finding]:
    data = _data(ev)
    if data is None:
        return
    view = data.target
    server = view.server.count("CLOSE_WAIT") if view.server and view.local else 0
    client = sum(d.count("CLOSE_WAIT") for d in view.clients)
    total = server + client
    if total < CLOSE_WAIT_WARN:
        return
    # Not a leak: ours (the probes' connects while the server was still thinking) and,
    # at a bounded run's second look, the ones newer than the first.
    counted = split(
        total, view.close_wait_ends, own_ends(ev), data.since_previous_s, live=data.live
    )
    if counted.counted < CLOSE_WAIT_WARN:
        return
    owners = view.close_wait_owners
    who = f"{owners[0].name} (pid {owners[0].pid})" if owners else "the application"
    side = f"on port {view.port}" if server >= client else f"to {view.addresses[0]}:{view.port}"
    evidence = []
    if server:
        states = (
            ", ".join(f"{s.count} {s.state}" for s in view.server.states) if view.server else ""
        )
        evidence.append(f"port {view.port} (this host serving): {states}")
    for d in view.clients:
        if d.count("CLOSE_WAIT"):
            evidence.append(
                f"to {d.endpoint} (this host as client): "
                + ", ".join(f"{s.count} {s.state}" for s in d.states)
            )
    evidence += left_out("CLOSE_WAIT", counted)
    if counted.since_s > 0:
        evidence.append(
            f"{counted.counted} of them were in CLOSE_WAIT already at the first look, "
            f"{counted.since_s:.1f} s earlier"
        )
    evidence += [f"{o.count} CLOSE_WAIT held by {o.name} (pid {o.pid})" for o in owners]
    if not owners and data.owners_hidden:
        evidence.append(f"run with sudo to see which process holds them (port {view.port})")
    evidence.append(
        "CLOSE_WAIT: the peer closed the connection, and this side never called close()"
    )
    filt = f"'( sport = :{view.port} )'" if server >= client else f"'( dport = :{view.port} )'"
    proc = data.process(owners[0].pid) if owners else None
    steps = [
        NextStep("List them with their process", f"ss -tanp state close-wait {filt}"),
        NextStep(
            f"Fix {who}: close the socket when a read returns end-of-file or fails "
            "(typically a connection-pool or error-path leak); restarting only hides it"
        ),
    ]
    if proc is not None:
        steps.append(
            NextStep("Watch whether its open files keep growing", f"ls /proc/{proc.pid}/fd | wc -l")
        )
    steps += service_steps(data, proc)
    yield Finding(
        "local.close_wait",
        Severity.WARNING,
        f"{counted.counted} connections {side} are stuck in CLOSE_WAIT: {who} does not close them",
        tuple(evidence),
        tuple(steps),
    )


def syn_flood(ev: Evidence) -> Iterator[Finding]:
    data = _data(ev)
    if data is None or not data.target.local or data.target.server is None:
        return
    view = data.target
    server = view.server
    assert server is not None
    # This run's own connects still in the handshake are no flood.
    counted = split(server.count("SYN_RECV"), view.syn_recv_ends, own_ends(ev), 0.0)
    half_open = counted.counted
    backlog = max((x.backlog for x in view.serving), default=-1)
    if half_open < SYN_RECV_MIN:
        return
    if half_open < SYN_RECV_WARN and not (backlog >= 0 and half_open >= backlog):
        return
    evidence = [f"{half_open} half-open connections (SYN_RECV) on port {view.port}"]
    evidence += left_out("SYN_RECV", counted)
    if backlog >= 0:
        evidence.append(f"listen backlog {backlog}: the SYN queue is full")
    peers = ", ".join(f"{p.address} ({p.count})" for p in server.top_peers)
    if peers:
        evidence.append(f"top peers on the port: {peers}")
    cookies = data.counters.get("SyncookiesSent", -1)
    if cookies >= 0:
        evidence.append(f"TcpExt SyncookiesSent = {cookies} since boot (this namespace)")
    yield Finding(
        "local.syn_flood",
        Severity.WARNING,
        f"{half_open} connections to port {view.port} never finish the handshake (SYN_RECV)",
        tuple(evidence),
        (
            NextStep(
                "See where the half-open connections come from",
                f"ss -tn state syn-recv '( sport = :{view.port} )'",
            ),
            NextStep(
                "Check SYN cookies are on (they keep the port usable)",
                "sysctl net.ipv4.tcp_syncookies",
            ),
            NextStep("Count cookies and drops", "nstat -az TcpExtSyncookiesSent TcpExtListenDrops"),
            NextStep(
                "Many sources: a SYN flood, filter it upstream; a few sources: their ACKs do not "
                "arrive (asymmetric routing, a firewall dropping return traffic)"
            ),
        ),
    )


def ephemeral_exhausted(ev: Evidence) -> Iterator[Finding]:
    data = _data(ev)
    if data is None or not data.target.ephemeral:
        return
    use = data.target.ephemeral[0]
    if use.fraction < EPHEMERAL_WARN:
        return
    lim = data.limits
    dest_addr = use.destination.rsplit(":", 1)[0].strip("[]")
    yield Finding(
        "local.ephemeral_exhausted",
        Severity.ERROR if use.fraction >= EPHEMERAL_ERROR else Severity.WARNING,
        f"{use.used} of {use.available} local ports from {use.source} to {use.destination} are in use",
        (
            f"{use.used} connections from {use.source} to {use.destination} hold ephemeral ports "
            f"({use.time_wait} of them in TIME_WAIT)",
            f"ephemeral range {lim.ephemeral_low}-{lim.ephemeral_high}"
            + (f" minus {lim.reserved_ports} reserved" if lim.reserved_ports else "")
            + f" = {use.available} ports per destination",
            f"net.ipv4.tcp_tw_reuse = {lim.tw_reuse}",
            "when none is left, connect() fails with EADDRNOTAVAIL",
        ),
        (
            NextStep(
                "Count connections to the destination by state",
                f"ss -tan dst {q(dest_addr)} | awk 'NR>1 {{print $1}}' | sort | uniq -c",
            ),
            NextStep("See the range", "sysctl net.ipv4.ip_local_port_range"),
            NextStep(
                "Reuse connections (keep-alive, a connection pool) instead of one per request; "
                "or widen the range / add source addresses"
            ),
        ),
    )


# -- what owns the port ---------------------------------------------------------------


def port_conflict(ev: Evidence) -> Iterator[Finding]:
    data = _data(ev)
    if data is None or not data.target.local or not data.target.service:
        return
    view = data.target
    for x in view.serving:
        if not x.pids:
            continue
        proc = data.process(x.pids[0])
        name = proc.name if proc else x.process
        if not name or name_matches(name, view.expected_names) or name in FORWARDERS:
            continue
        if proc and any(e in proc.cmdline for e in view.expected_names):
            continue
        runs_elsewhere = [p for p in view.lookalikes if p not in x.pids]
        evidence = [
            _listener_line(data, x),
            f"port {view.port} usually belongs to {view.service} "
            f"({', '.join(view.expected_names)})",
        ]
        if proc:
            evidence.append(f"holder's command: {proc.cmdline}")
        for pid in runs_elsewhere:
            other = data.process(pid)
            if other:
                evidence.append(
                    f"{other.name} (pid {pid}) is running but does not hold port {view.port}: "
                    "it cannot bind while the port is taken"
                )
        steps = [
            NextStep(f"See what holds port {view.port}", f"ss -tlnp 'sport = :{view.port}'"),
            *service_steps(data, proc),
            NextStep(
                f"If {view.service} should own port {view.port}, stop {name} or move one of "
                f"them; look for 'Address already in use' in {view.service}'s log"
            ),
        ]
        yield Finding(
            "local.port_conflict",
            Severity.ERROR if runs_elsewhere else Severity.WARNING,
            f"port {view.port} is held by {name} (pid {x.pids[0]}), not by {view.service}",
            tuple(evidence),
            tuple(steps),
        )
        return


# -- the host -----------------------------------------------------------------------


def _age(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def _memory_line(data: LocalData) -> str:
    mem = data.memory
    line = (
        f"memory available {mem.available_kb // 1024} MiB of {mem.total_kb // 1024} MiB "
        f"({mem.available_fraction:.0%})"
    )
    if mem.swap_total_kb:
        line += f"; swap free {mem.swap_free_kb // 1024} of {mem.swap_total_kb // 1024} MiB"
    if mem.psi_full_avg10 >= 0:
        line += f"; pressure (PSI) some {mem.psi_some_avg10:.1f}% full {mem.psi_full_avg10:.1f}%"
    return line


def oom_killed(ev: Evidence) -> Iterator[Finding]:
    data = _data(ev)
    if data is None:
        return
    view = data.target
    oom = data.oom
    serving = view.serving if view.local else ()
    names = set(view.expected_names)
    units: set[str] = {u.unit for u in data.units}
    names.update(u.program for u in data.units if u.program)
    for pid in view.lookalikes:
        proc = data.process(pid)
        if proc and proc.unit:
            units.add(proc.unit)
    for x in serving:
        for pid in x.pids[:1]:
            proc = data.process(pid)
            if proc:
                names.add(proc.name)
                if proc.unit:
                    units.add(proc.unit)
    log_steps = [
        NextStep(
            "Read the kernel's OOM reports",
            "dmesg -T | grep -i -e 'killed process' -e 'out of memory'"
            if data.privileged
            else "sudo dmesg -T | grep -i -e 'killed process' -e 'out of memory'",
        ),
        NextStep("See memory use now", "free -m"),
    ]
    down = view.local and not serving
    if not oom.readable:
        # Which process is unknown: it may be the service only when nothing serves the port.
        if oom.kills_since_boot > 0 and down:
            yield Finding(
                "system.oom_killed",
                Severity.WARNING,
                f"the kernel has OOM-killed {oom.kills_since_boot} processes since boot",
                (
                    f"/proc/vmstat oom_kill = {oom.kills_since_boot}",
                    f"the kernel log says which ({oom.source}): run with sudo",
                    _memory_line(data),
                ),
                tuple(log_steps),
            )
        return
    # What served the port in earlier runs (the journals): its pid, name and unit.
    seen_pids = {pid for pid, _name, _unit in data.seen_owners}
    names.update(name for _pid, name, _unit in data.seen_owners if name)
    units.update(unit for _pid, _name, unit in data.seen_owners if unit)
    matching = [
        k
        for k in oom.kills
        if k.pid in seen_pids or name_matches(k.name, names) or (k.unit and k.unit in units)
    ]
    causes = [k for k in matching if down and k.age_s <= OOM_CAUSE_S]
    if causes:
        k = causes[0]
        scope = "its memory cgroup limit" if k.cgroup_limit else "the machine's memory"
        limit = f" (limit {k.limit_kb // 1024} MiB)" if k.limit_kb else ""
        evidence = [
            f"{k.name} (pid {k.pid}) was killed {_age(k.age_s)} ago with SIGKILL (exit code 137): "
            f"{scope} ran out{limit}"
            + (f", anon RSS {k.anon_rss_kb // 1024} MiB" if k.anon_rss_kb else ""),
        ]
        if k.memcg:
            evidence.append(f"cgroup: {k.memcg}")
        earlier = next((o for o in data.seen_owners if o[0] == k.pid or o[1] == k.name), None)
        if earlier:
            evidence.append(
                f"an earlier check saw {earlier[1]} (pid {earlier[0]}"
                + (f", {earlier[2]}" if earlier[2] else "")
                + f") serving port {view.port}"
            )
        evidence.append(f"nothing listens on port {view.port} now")
        if len(matching) > 1:
            evidence.append(f"{len(matching)} such kills in the kernel log")
        evidence.append(_memory_line(data))
        unit = _oom_unit(data, k)
        steps = [*unit_steps(unit), *log_steps] if unit else list(log_steps)
        if unit and unit != k.unit:
            evidence.append(f"{unit} should listen on port {view.port} (its unit file names it)")
        steps.append(
            NextStep(
                f"Give {k.name} more memory or make it use less (its cache/pool/worker settings)"
                + ("; raise the cgroup limit" if k.cgroup_limit else "")
                + ", then start it again"
            )
        )
        yield Finding(
            "system.oom_killed",
            Severity.ERROR,
            f"the kernel OOM-killed {k.name} (pid {k.pid}) {_age(k.age_s)} ago"
            + (f" at its {k.limit_kb // 1024} MiB cgroup limit" if k.limit_kb else "")
            + (f" ({unit})" if unit else ""),
            tuple(evidence),
            tuple(steps),
        )
        return
    if matching:
        # It fits the service's name, but the port is served (or the kill is old):
        # it explains nothing this run saw.
        k = matching[0]
        now = (
            f"port {view.port} is served now (pid {', '.join(map(str, serving[0].pids[:3]))})"
            if serving
            else f"nothing listens on port {view.port}, but the kill is {_age(k.age_s)} old"
        )
        yield Finding(
            "system.oom_killed",
            Severity.INFO,
            f"the kernel OOM-killed {k.name} (pid {k.pid}) {_age(k.age_s)} ago; "
            "it explains nothing this check saw",
            (f"{k.name} (pid {k.pid}) killed {_age(k.age_s)} ago", now, _memory_line(data)),
            tuple(log_steps),
        )
        return
    # Kills of processes not named like the service: context only when nothing listens
    # on the port and the service's name is unknown (it may be among them).  Another
    # process's kill on a busy host must not show in every run (issue 26).
    recent = [k for k in oom.kills if k.age_s <= OOM_RECENT_S]
    nothing_on_port = not view.listeners  # bound elsewhere is not a dead service
    # A person who says the service keeps dying is told of other kills too: not the
    # service's, but a host short of memory is where the next one comes from.
    unknown = not names and not units
    if recent and down and nothing_on_port and (unknown or ev.symptom == "service-down"):
        k = recent[0]
        question = "is one of them the service?" if unknown else "none of them is the service's"
        yield Finding(
            "system.oom_killed",
            Severity.INFO,
            f"the kernel OOM-killed {len(recent)} process(es) in the last 24 h "
            f"(latest {k.name}, pid {k.pid}, {_age(k.age_s)} ago): {question}",
            (
                *(f"{x.name} (pid {x.pid}) {_age(x.age_s)} ago" for x in recent[:5]),
                _memory_line(data),
            ),
            tuple(log_steps),
        )


def _oom_unit(data: LocalData, kill: OomKill) -> str:
    """The unit of the killed process: from its cgroup, else the one that should
    serve the port (when the kill fits it by name or by unit)."""
    if kill.unit:
        return kill.unit
    return data.units[0].unit if data.units else ""


def memory_pressure(ev: Evidence) -> Iterator[Finding]:
    data = _data(ev)
    if data is None:
        return
    mem = data.memory
    low = mem.total_kb > 0 and mem.available_fraction < 0.05
    stalled = mem.psi_full_avg10 >= 10
    if not (low or stalled):
        return
    yield Finding(
        "system.memory_pressure",
        Severity.WARNING,
        "this host is short of memory" + (": tasks stall waiting for memory" if stalled else ""),
        (_memory_line(data),),
        (
            NextStep("See memory use", "free -m"),
            NextStep("Find the biggest processes", "ps -eo pid,rss,comm --sort=-rss | head"),
        ),
    )


# -- healthy / context ----------------------------------------------------------------


def listening_ok(ev: Evidence) -> Iterator[Finding]:
    data = _data(ev)
    if data is None or not data.target.local:
        return
    serving = data.target.serving
    if not serving:
        return
    evidence = [_listener_line(data, x) for x in serving]
    for x in serving[:1]:
        proc = data.process(x.pids[0]) if x.pids else None
        if proc and proc.open_files >= 0 and proc.fd_limit > 0:
            evidence.append(f"{proc.name}: {proc.open_files} of {proc.fd_limit} open files")
    yield Finding(
        "local.listening",
        Severity.OK,
        f"port {data.target.port} listens on {', '.join(x.endpoint for x in serving)}",
        tuple(evidence),
    )


def connections(ev: Evidence) -> Iterator[Finding]:
    data = _data(ev)
    if data is None:
        return
    view = data.target
    evidence = []
    if view.server and view.local:
        evidence.append(
            f"port {view.port} serving {view.server.total}: "
            + ", ".join(f"{s.count} {s.state}" for s in view.server.states)
        )
        if view.server.top_peers:
            evidence.append(
                "top peers: " + ", ".join(f"{p.address} ({p.count})" for p in view.server.top_peers)
            )
    for d in view.clients:
        evidence.append(
            f"from here to {d.endpoint}: " + ", ".join(f"{s.count} {s.state}" for s in d.states)
        )
    if not evidence:
        return
    own = own_ends(ev)
    for state, ends in (("CLOSE_WAIT", view.close_wait_ends), ("SYN_RECV", view.syn_recv_ends)):
        ours = sum(1 for e in ends if e.key in own)
        if ours:
            evidence.append(
                f"{ours} of the {state} {'is' if ours == 1 else 'are'} netmedic's own "
                f"connection{'' if ours == 1 else 's'} of this run"
            )
    evidence.append(
        f"this host: {data.total} TCP connections ("
        + ", ".join(f"{s.count} {s.state}" for s in data.states[:5])
        + ")"
    )
    yield Finding(
        "local.connections",
        Severity.INFO,
        f"connection states for port {view.port}",
        tuple(evidence),
    )


RULES = (
    not_listening,
    wrong_address,
    backlog_full,
    fd_exhausted,
    close_wait,
    syn_flood,
    ephemeral_exhausted,
    port_conflict,
    oom_killed,
    memory_pressure,
    listening_ok,
    connections,
)
