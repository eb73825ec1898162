"""Local evidence: what this host's own sockets, processes and limits say.

The runbooks' ``ss -tlnp``, ``lsof -i``, ``ulimit -n``, ``netstat -an | grep
PORT | wc -l`` and ``dmesg | grep -i killed``, read directly and aggregated:

* whether the target is this host (its addresses against the interfaces);
* every listening TCP/UDP socket with its owner, and for TCP the accept queue
  against the backlog (netlink ``sock_diag``, see :mod:`probes.host.sockdiag`);
* connection states per state, per local port and per remote peer; the
  connections from here to the target and the ephemeral ports they use;
* the open-files use of the processes involved, OOM kills, memory pressure.

It runs for remote targets too: the client side (out of ports, out of file
descriptors, TIME_WAIT toward the destination) can be the problem.  A busy
server has tens of thousands of sockets: they are counted, never listed.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import ipaddress
import os
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass

import psutil

from probes.core.context import SELF_NAME, ProbeContext, run_in_daemon_thread
from probes.core.deadline import deadline
from probes.core.model import ProbeError, ProbeResult, Status
from probes.core.programs import find_program
from probes.core.target import endpoint
from probes.host import sockdiag
from probes.host.connends import ENDS_SAMPLE, ConnEnd, canonical, carry_over
from probes.host.owner import (
    Container,
    ContainerIndex,
    Forward,
    UnitFile,
    name_containers,
    read_containers,
    read_forwards,
    units_for_port,
)
from probes.host.procinfo import OwnerMap, ProcessInfo, map_owners, process_info
from probes.host.sockdiag import (
    CLOSE,
    CLOSE_WAIT,
    LISTEN,
    STATE_NAMES,
    SYN_RECV,
    TIME_WAIT,
    Sock,
)
from probes.host.system import (
    Limits,
    MemoryInfo,
    OomReport,
    read_limits,
    read_memory,
    read_oom,
    read_tcp_counters,
)

MAX_LISTENERS = 256
TOP = 10
OWNER_SAMPLE = 256  # client-side sockets whose owners are looked up
# CLOSE_WAIT sockets on the target's port that make a bounded run look a second time,
# at least MIN_LOOK_GAP_S after the first and LOOK_AGAIN_MARGIN_S before its deadline.
PILE_UP = 10
MIN_LOOK_GAP_S = 1.0
LOOK_AGAIN_MARGIN_S = 0.5

# Well-known service ports: what usually listens there (process names).  Used
# to spot a port held by something else, and the service running elsewhere.
WELL_KNOWN: dict[int, tuple[str, tuple[str, ...]]] = {
    22: ("ssh", ("sshd",)),
    25: ("smtp", ("master", "exim4", "exim", "sendmail", "smtpd", "opensmtpd", "postfix")),
    53: (
        "dns",
        ("named", "unbound", "dnsmasq", "systemd-resolve", "coredns", "pdns_server", "knotd"),
    ),
    389: ("ldap", ("slapd",)),
    1433: ("sqlserver", ("sqlservr",)),
    1521: ("oracle", ("tnslsnr",)),
    2379: ("etcd", ("etcd",)),
    3306: ("mysql", ("mysqld", "mariadbd", "mariadb")),
    5432: ("postgresql", ("postgres", "postmaster")),
    5672: ("rabbitmq", ("beam.smp", "rabbitmq-server")),
    6379: ("redis", ("redis-server", "valkey-server", "keydb-server")),
    6443: ("kubernetes", ("kube-apiserver",)),
    8500: ("consul", ("consul",)),
    9200: ("elasticsearch", ("java", "elasticsearch", "opensearch")),
    11211: ("memcached", ("memcached",)),
    27017: ("mongodb", ("mongod", "mongos")),
}
# Programs that run something else: a unit's ExecStart= naming one of them says
# nothing about which process is the service.
LAUNCHERS = frozenset(
    {"docker", "podman", "sh", "bash", "env", "python", "python3", "java", "node", "ruby", "perl"}
)
# Processes that hold a port on another's behalf: never a conflict.
FORWARDERS = frozenset(
    {
        "docker-proxy",
        "containerd-shim",
        "conmon",
        "rootlessport",
        "slirp4netns",
        "kube-proxy",
        "haproxy",
        "envoy",
        "pgbouncer",
        "pgpool",
        "odyssey",
        "socat",
        "stunnel",
        "stunnel4",
        "sshd",
    }
)


@dataclass(frozen=True, slots=True)
class Listener:
    proto: str  # tcp | udp
    family: int  # 4 | 6
    address: str
    port: int
    queue: int  # TCP: connections waiting in the accept queue now
    backlog: int  # TCP: the accept queue's size (listen backlog); -1 unknown
    uid: int  # the socket's owner uid (known even when the process is not)
    pids: tuple[int, ...]  # owning processes; empty when not visible
    process: str = ""  # name of the first owner
    v6only: bool = False

    @property
    def endpoint(self) -> str:
        return (
            f"[{self.address}]:{self.port}" if self.family == 6 else f"{self.address}:{self.port}"
        )

    @property
    def loopback(self) -> bool:
        return _is_loopback(self.address)

    def accepts(self, address: str) -> bool:
        """Would a connection to *address* on this port reach this listener?"""
        ip = _ip(address)
        if ip is None:
            return False
        if self.family == 4:
            return ip.version == 4 and self.address in ("0.0.0.0", str(ip))
        if self.address == "::":
            return ip.version == 6 or not self.v6only
        return ip.version == 6 and _ip(self.address) == ip


@dataclass(frozen=True, slots=True)
class StateCount:
    state: str
    count: int


@dataclass(frozen=True, slots=True)
class PeerCount:
    address: str
    count: int


@dataclass(frozen=True, slots=True)
class PortLoad:
    """Server side: connections on one local listening port."""

    port: int
    total: int
    states: tuple[StateCount, ...]
    top_peers: tuple[PeerCount, ...]

    def count(self, state: str) -> int:
        return sum(s.count for s in self.states if s.state == state)


@dataclass(frozen=True, slots=True)
class Destination:
    """Client side: connections from this host to one remote address:port."""

    address: str
    port: int
    total: int
    states: tuple[StateCount, ...]

    def count(self, state: str) -> int:
        return sum(s.count for s in self.states if s.state == state)

    @property
    def endpoint(self) -> str:
        return (
            f"[{self.address}]:{self.port}"
            if ":" in self.address
            else f"{self.address}:{self.port}"
        )


@dataclass(frozen=True, slots=True)
class EphemeralUse:
    source: str  # local address the connections leave from
    destination: str  # address:port they go to
    used: int  # local ports of the ephemeral range in use toward it
    time_wait: int  # of which in TIME_WAIT
    available: int  # size of the ephemeral range (minus reserved ports)

    @property
    def fraction(self) -> float:
        return self.used / self.available if self.available else 0.0


@dataclass(frozen=True, slots=True)
class OwnerCount:
    pid: int
    name: str
    count: int


@dataclass(frozen=True, slots=True)
class TargetView:
    """Everything about the target's address and port, from this host."""

    addresses: tuple[str, ...]
    port: int
    local: bool  # some target address belongs to this host
    local_addresses: tuple[str, ...]
    listeners: tuple[Listener, ...]  # TCP and UDP listeners on the port, any address
    accepted_on: tuple[str, ...]  # target addresses a TCP listener accepts on
    not_accepted_on: tuple[str, ...]  # local target addresses no TCP listener covers
    server: PortLoad | None  # connections on the port (this host as the server)
    clients: tuple[Destination, ...]  # connections from here to the target
    ephemeral: tuple[EphemeralUse, ...]
    close_wait_owners: tuple[OwnerCount, ...]  # who holds CLOSE_WAIT sockets (either side)
    client_pids: tuple[int, ...]  # processes connected to the target from here
    service: str = ""  # the service usually on this port ("postgresql")
    expected_names: tuple[str, ...] = ()
    lookalikes: tuple[int, ...] = ()  # running processes with an expected name
    nearby: tuple[Listener, ...] = ()  # listeners near the port or held by look-alikes
    # The client end of each CLOSE_WAIT / SYN_RECV connection on the port, either side
    # (capped at connends.ENDS_SAMPLE): which of them this run opened, which stay.
    close_wait_ends: tuple[ConnEnd, ...] = ()
    syn_recv_ends: tuple[ConnEnd, ...] = ()

    @property
    def tcp_listeners(self) -> tuple[Listener, ...]:
        return tuple(x for x in self.listeners if x.proto == "tcp")

    @property
    def serving(self) -> tuple[Listener, ...]:
        """TCP listeners that accept connections to one of the target's addresses."""
        return tuple(x for x in self.tcp_listeners if any(x.accepts(a) for a in self.addresses))


@dataclass(frozen=True, slots=True)
class LocalData:
    source: str  # "netlink" or "proc" (no backlogs)
    privileged: bool  # root: every process's sockets have owners
    uid: int
    owners_hidden: bool  # some processes' fds could not be read
    target: TargetView
    listeners: tuple[Listener, ...]  # every listener (capped)
    listeners_total: int
    processes: tuple[ProcessInfo, ...]  # listener owners and processes involved
    total: int  # TCP sockets that are not listening
    states: tuple[StateCount, ...]
    busiest_ports: tuple[PortLoad, ...]
    top_destinations: tuple[Destination, ...]
    limits: Limits
    memory: MemoryInfo
    counters: dict[str, int]
    oom: OomReport
    tools: tuple[str, ...]  # systemd / docker / kubectl when usable here
    hostname: str
    collect_s: float
    # What should serve the port when nothing does (probes.host.owner):
    units: tuple[UnitFile, ...] = ()  # unit files that name the port
    forwards: tuple[Forward, ...] = ()  # DNAT rules for the port (root only)
    containers: tuple[Container, ...] = ()  # containers on disk publishing the port
    containers_source: str = ""  # where containers were read ("": no runtime here)
    # (pid, name, unit) earlier runs saw serving the port (ProbeConfig.seen_owners)
    seen_owners: tuple[tuple[int, str, str], ...] = ()
    # When this look was taken (monotonic; for the next look of the same process), and
    # the seconds since the previous look whose ends it carries over (0: the first look).
    looked_at: float = 0.0
    since_previous_s: float = 0.0
    live: bool = False  # one of a live run's looks (not a bounded run's second look)

    def process(self, pid: int) -> ProcessInfo | None:
        return next((p for p in self.processes if p.pid == pid), None)

    def state_count(self, state: str) -> int:
        return sum(s.count for s in self.states if s.state == state)


# -- the probe -------------------------------------------------------------------


async def probe_local(ctx: ProbeContext) -> AsyncIterator[ProbeResult]:
    started = time.monotonic()
    resolution = await ctx.resolution()
    addresses = tuple(a.split("%", 1)[0] for a in resolution.addresses)
    port = ctx.target.port
    try:
        async with deadline(max(0.5, ctx.config.timeout)):
            data = await run_in_daemon_thread(
                lambda: collect_local(addresses, port, self_name=ctx.config.self_name)
            )
    except TimeoutError:
        elapsed = time.monotonic() - started
        text = f"reading sockets and processes took longer than {ctx.config.timeout:g}s"
        yield ProbeResult(
            "local",
            Status.ERROR,
            elapsed,
            text,
            error=ProbeError("TIMEOUT", text, elapsed_s=elapsed),
        )
        return
    except OSError as exc:
        elapsed = time.monotonic() - started
        text = f"could not read local sockets: {exc}"
        yield ProbeResult(
            "local", Status.ERROR, elapsed, text, error=ProbeError(type(exc).__name__, text)
        )
        return
    data = await _with_forwards(data, ctx.config.timeout)
    if ctx.config.local_duration is None and _piled_up(data):
        data = await _look_again(data, started + ctx.config.timeout)
    if ctx.config.seen_owners:
        data = dataclasses.replace(data, seen_owners=ctx.config.seen_owners)
    elapsed = time.monotonic() - started
    yield ProbeResult("local", Status.OK, elapsed, summarize(data), data)
    if ctx.config.local_duration == 0 and data.target.local:
        async for fresh in _keep_looking(ctx, data):
            yield fresh


def _piled_up(data: LocalData) -> bool:
    """Enough CLOSE_WAIT sockets on the port that only a second look can say whether
    they stay (a leak) or go (a slow answer whose clients hung up: netmedic's own
    probes among them)."""
    view = data.target
    server = view.server.count("CLOSE_WAIT") if view.server and view.local else 0
    return server + sum(d.count("CLOSE_WAIT") for d in view.clients) >= PILE_UP


async def _look_again(data: LocalData, until: float) -> LocalData:
    """A bounded run's second look, as late as its time allows (the longer the gap,
    the fewer slow answers pass for a leak); the first look when there is no time."""
    at = until - LOOK_AGAIN_MARGIN_S - 2 * data.collect_s
    if at - time.monotonic() < MIN_LOOK_GAP_S:
        return data
    await asyncio.sleep(at - time.monotonic())
    try:
        async with deadline(max(0.5, until - time.monotonic())):
            fresh = await run_in_daemon_thread(functools.partial(refresh_local, data))
    except TimeoutError:
        return data
    if fresh.status is not Status.OK or not isinstance(fresh.data, LocalData):
        return data
    return fresh.data


async def _keep_looking(ctx: ProbeContext, data: LocalData) -> AsyncIterator[ProbeResult]:
    """A live run on a local target: the same look every ``local_interval`` seconds
    (states, accept queue, fd use), so a leak or a restart shows as it happens and the
    findings follow it.  Paused with the run; a slow or failed read keeps the last look.
    Looking again keeps no run going: the run ends when its other probes have."""
    live = ctx.live
    interval = max(0.1, ctx.config.local_interval)
    while True:
        if live is not None:
            await live.wait_open()
            await live.clock.sleep(interval)
            await live.wait_open()
        else:
            await asyncio.sleep(interval)
        try:
            async with asyncio.timeout(max(0.5, ctx.config.timeout)):
                fresh = await run_in_daemon_thread(
                    functools.partial(refresh_local, data, live=True)
                )
        except TimeoutError:
            continue
        if fresh.status is Status.OK and isinstance(fresh.data, LocalData):
            data = fresh.data
            yield fresh


async def _with_forwards(data: LocalData, timeout: float) -> LocalData:
    """*data* with the DNAT rules for the port, when no socket here serves it.

    Reading the nat tables needs root; a failure leaves the forwards unknown."""
    if not data.target.local or data.target.serving or not data.privileged:
        return data
    try:
        found = await read_forwards(data.target.port, max(0.5, min(3.0, timeout)))
    except (OSError, TimeoutError, ValueError):
        return data
    if not found:
        return data
    index = ContainerIndex(data.containers, data.containers_source)
    if data.containers_source:
        index = await run_in_daemon_thread(read_containers)
    return dataclasses.replace(data, forwards=name_containers(found, index))


def refresh_local(previous: LocalData, live: bool = False) -> ProbeResult:
    """The same look again (blocking: call it on a thread); *live*: a live run's."""
    started = time.monotonic()
    try:
        data = collect_local(previous.target.addresses, previous.target.port)
    except OSError as exc:
        text = f"could not read local sockets: {exc}"
        elapsed = time.monotonic() - started
        return ProbeResult(
            "local", Status.ERROR, elapsed, text, error=ProbeError(type(exc).__name__, text)
        )
    if previous.forwards and data.target.local and not data.target.serving:
        # The DNAT rules for an unserved port were read once (root, nft): keep them.
        data = dataclasses.replace(data, forwards=previous.forwards)
    data = dataclasses.replace(_carried(previous, data), live=live)
    return ProbeResult("local", Status.OK, time.monotonic() - started, summarize(data), data)


def _carried(previous: LocalData, data: LocalData) -> LocalData:
    """*data* with how long the previous looks had already seen each CLOSE_WAIT /
    SYN_RECV connection: a socket that stays is told from one that comes and goes."""
    since = data.looked_at - previous.looked_at
    if not previous.looked_at or since <= 0:
        return data
    was, now = previous.target, data.target
    view = dataclasses.replace(
        now,
        close_wait_ends=carry_over(was.close_wait_ends, now.close_wait_ends, since),
        syn_recv_ends=carry_over(was.syn_recv_ends, now.syn_recv_ends, since),
    )
    return dataclasses.replace(data, target=view, since_previous_s=since)


def summarize(data: LocalData) -> str:
    view = data.target
    parts: list[str] = []
    if view.local:
        serving = view.serving
        if serving:
            x = serving[0]
            owner = f" ({x.process})" if x.process else ""
            parts.append(f"{x.endpoint} listening{owner}, accept queue {x.queue}/{x.backlog}")
        elif view.tcp_listeners:
            parts.append(
                f"port {view.port} listens on {', '.join(x.endpoint for x in view.tcp_listeners)} only"
            )
        else:
            parts.append(f"nothing listens on TCP port {view.port}")
    else:
        parts.append("target is not this host")
        if view.clients:
            parts.append(f"{sum(d.total for d in view.clients)} connections to it from here")
    states = ", ".join(f"{s.count} {s.state}" for s in data.states[:3])
    parts.append(f"{data.total} TCP connections" + (f" ({states})" if states else ""))
    parts.append(f"{data.listeners_total} listeners")
    return "; ".join(parts)


# -- collection (blocking: runs on a thread) ---------------------------------------


def collect_local(
    addresses: Sequence[str], port: int, root: str = "/", self_name: str = SELF_NAME
) -> LocalData:
    """Read it all; *root* is where unit files and container state are read (tests);
    *self_name* names this process where it holds a listener (the demo's servers)."""
    started = time.monotonic()
    socks, source = sockdiag.collect()
    limits = read_limits()
    local_addrs = local_addresses()
    targets = {a for a in (_norm(x) for x in addresses) if a}
    target_local = any(_is_local(a, local_addrs) for a in targets)

    listen_socks = [
        s
        for s in socks
        if (s[0] == "tcp" and s[2] == LISTEN) or (s[0] == "udp" and s[2] == CLOSE and s[4])
    ]
    tcp_ports = {s[4] for s in listen_socks if s[0] == "tcp"}

    states: Counter[int] = Counter()
    port_states: Counter[tuple[int, int]] = Counter()
    port_totals: Counter[int] = Counter()
    dest_states: Counter[tuple[str, int, int]] = Counter()
    dest_totals: Counter[tuple[str, int]] = Counter()
    target_peers: Counter[str] = Counter()
    eph_used: Counter[tuple[str, str]] = Counter()
    eph_tw: Counter[tuple[str, str]] = Counter()
    close_wait_inodes: list[int] = []
    client_inodes: list[int] = []
    ends: dict[int, list[ConnEnd]] = {CLOSE_WAIT: [], SYN_RECV: []}
    low, high = limits.ephemeral_low, limits.ephemeral_high
    for proto, _fam, state, laddr, lport, raddr, rport, _rq, _wq, _uid, inode, _v6 in socks:
        if proto != "tcp" or state == LISTEN:
            continue
        states[state] += 1
        if lport in tcp_ports:
            port_states[(lport, state)] += 1
            port_totals[lport] += 1
            if lport == port and target_local:
                target_peers[raddr] += 1
                _note_end(ends, state, raddr, rport)
                if state == CLOSE_WAIT:
                    close_wait_inodes.append(inode)
            continue
        dest_states[(raddr, rport, state)] += 1
        dest_totals[(raddr, rport)] += 1
        if rport == port and raddr in targets:
            if low <= lport <= high:
                key = (laddr, raddr)
                eph_used[key] += 1
                if state == TIME_WAIT:
                    eph_tw[key] += 1
            _note_end(ends, state, laddr, lport)
            if state == CLOSE_WAIT:
                close_wait_inodes.append(inode)
            if len(client_inodes) < OWNER_SAMPLE and inode:
                client_inodes.append(inode)

    wanted = [s[10] for s in listen_socks] + close_wait_inodes + client_inodes
    me = os.getpid()
    owners = map_owners(wanted, own=[s[10] for s in listen_socks])
    if me in owners.names:
        owners.names[me] = self_name
    listeners = sorted(
        (_listener(s, owners) for s in listen_socks),
        key=lambda x: (x.port, x.proto, x.family, x.address),
    )

    # Processes worth describing: listener owners first, then the ones involved.
    close_wait_owners = Counter(
        owners.owners[i][0] for i in close_wait_inodes if owners.owners.get(i)
    )
    client_pids = tuple(
        dict.fromkeys(owners.owners[i][0] for i in client_inodes if owners.owners.get(i))
    )
    service, expected = WELL_KNOWN.get(port, ("", ()))
    # Nothing here serves the port: which unit files name it (they should).
    nothing_serves = target_local and not any(
        x.port == port and x.proto == "tcp" and x.accepts(a) for x in listeners for a in targets
    )
    units = units_for_port(port, root) if nothing_serves else ()
    if not expected:  # the program those units run is the service to look for
        expected = tuple(
            dict.fromkeys(u.program for u in units if u.program and u.program not in LAUNCHERS)
        )
    lookalikes = tuple(
        pid
        for pid, name in owners.names.items()
        if expected and name_matches(name, expected) and _same_netns(pid)
    )
    nearby = _nearby(listeners, port, set(lookalikes))
    interesting: dict[int, None] = {}
    for x in listeners:
        if x.port == port:
            interesting.update(dict.fromkeys(x.pids[:1]))
    interesting.update(dict.fromkeys(pid for pid, _ in close_wait_owners.most_common(5)))
    interesting.update(dict.fromkeys(client_pids[:5]))
    interesting.update(dict.fromkeys(lookalikes[:5]))
    for x in nearby:
        interesting.update(dict.fromkeys(x.pids[:1]))
    # Only these show their command line: another service's may carry its password.
    relevant = set(interesting)
    for x in listeners:
        interesting.update(dict.fromkeys(x.pids[:1]))
        if len(interesting) >= 64:
            break
    boxes = read_containers(root)
    processes = tuple(
        process_info(pid, owners.fd_counts.get(pid), containers=boxes, with_cmdline=pid in relevant)
        for pid in interesting
    )
    processes = tuple(
        dataclasses.replace(p, name=self_name) if p.pid == me else p for p in processes
    )
    names = {p.pid: p.name for p in processes}

    on_port = tuple(x for x in listeners if x.port == port)
    tcp_on_port = [x for x in on_port if x.proto == "tcp"]
    local_targets = tuple(a for a in _ordered(addresses) if _is_local(a, local_addrs))
    accepted = tuple(a for a in _ordered(addresses) if any(x.accepts(a) for x in tcp_on_port))
    server = (
        _port_load(port, port_states, port_totals, target_peers) if port in port_totals else None
    )
    clients = tuple(
        Destination(addr, port, dest_totals[(addr, port)], _states_of(dest_states, addr, port))
        for addr in _ordered(addresses)
        if (addr, port) in dest_totals
    )
    ephemeral = tuple(
        sorted(
            (
                EphemeralUse(
                    src,
                    endpoint(dst, port),
                    used,
                    eph_tw[(src, dst)],
                    limits.ephemeral_size,
                )
                for (src, dst), used in eph_used.items()
            ),
            key=lambda e: -e.used,
        )
    )
    view = TargetView(
        addresses=tuple(_ordered(addresses)),
        port=port,
        local=target_local,
        local_addresses=local_targets,
        listeners=on_port,
        accepted_on=accepted,
        not_accepted_on=tuple(a for a in local_targets if a not in accepted),
        server=server,
        clients=clients,
        ephemeral=ephemeral,
        close_wait_owners=tuple(
            OwnerCount(pid, names.get(pid) or owners.names.get(pid, ""), n)
            for pid, n in close_wait_owners.most_common(5)
        ),
        client_pids=client_pids[:5],
        service=service,
        expected_names=expected,
        lookalikes=lookalikes[:5],
        nearby=nearby,
        close_wait_ends=tuple(ends[CLOSE_WAIT]),
        syn_recv_ends=tuple(ends[SYN_RECV]),
    )
    busiest = tuple(
        _port_load(p, port_states, port_totals, None) for p, _ in port_totals.most_common(TOP)
    )
    top_dest = tuple(
        Destination(a, p, n, _states_of(dest_states, a, p))
        for (a, p), n in dest_totals.most_common(TOP)
    )
    return LocalData(
        source=source,
        privileged=os.geteuid() == 0,
        uid=os.geteuid(),
        owners_hidden=owners.unreadable > 0,
        target=view,
        listeners=tuple(listeners[:MAX_LISTENERS]),
        listeners_total=len(listeners),
        processes=processes,
        total=sum(states.values()),
        states=tuple(StateCount(STATE_NAMES[k], n) for k, n in states.most_common()),
        busiest_ports=busiest,
        top_destinations=top_dest,
        limits=limits,
        memory=read_memory(),
        counters=read_tcp_counters(),
        oom=read_oom(),
        tools=available_tools(),
        hostname=_hostname(),
        collect_s=time.monotonic() - started,
        units=units,
        containers=boxes.publishing(port),
        containers_source=boxes.source,
        looked_at=time.monotonic(),
    )


def _note_end(ends: dict[int, list[ConnEnd]], state: int, address: str, port: int) -> None:
    """Record the client end of a connection in a state the rules judge (capped)."""
    kept = ends.get(state)
    if kept is not None and len(kept) < ENDS_SAMPLE:
        kept.append(ConnEnd(canonical(address), port))


def _listener(s: Sock, owners: OwnerMap) -> Listener:
    proto, family, _state, laddr, lport, _raddr, _rport, rqueue, wqueue, uid, inode, v6only = s
    pids = tuple(owners.owners.get(inode, ()))
    tcp = proto == "tcp"
    return Listener(
        proto=proto,
        family=family,
        address=laddr,
        port=lport,
        queue=rqueue if tcp else 0,
        backlog=wqueue if tcp else -1,
        uid=uid,
        pids=pids,
        process=owners.names.get(pids[0], "") if pids else "",
        v6only=v6only,
    )


def _port_load(
    port: int,
    port_states: Counter[tuple[int, int]],
    totals: Counter[int],
    peers: Counter[str] | None,
) -> PortLoad:
    counts: Counter[str] = Counter()
    for (p, state), n in port_states.items():
        if p == port:
            counts[STATE_NAMES[state]] += n
    return PortLoad(
        port,
        totals[port],
        tuple(StateCount(s, n) for s, n in counts.most_common()),
        tuple(PeerCount(a, n) for a, n in peers.most_common(5)) if peers else (),
    )


def _states_of(
    dest_states: Counter[tuple[str, int, int]], addr: str, port: int
) -> tuple[StateCount, ...]:
    counts: Counter[str] = Counter()
    for (a, p, state), n in dest_states.items():
        if a == addr and p == port:
            counts[STATE_NAMES[state]] += n
    return tuple(StateCount(s, n) for s, n in counts.most_common())


def _nearby(listeners: Iterable[Listener], port: int, lookalikes: set[int]) -> tuple[Listener, ...]:
    """Listeners that may be the service in the wrong place."""
    found = [
        x
        for x in listeners
        if x.proto == "tcp"
        and x.port != port
        and (abs(x.port - port) <= 10 or lookalikes.intersection(x.pids))
    ]
    found.sort(key=lambda x: (not lookalikes.intersection(x.pids), abs(x.port - port)))
    return tuple(found[:5])


def name_matches(name: str, expected: Iterable[str]) -> bool:
    # /proc/PID/comm is cut at 15 characters.
    return any(name == e or (len(name) == 15 and e.startswith(name)) for e in expected)


def _same_netns(pid: int) -> bool:
    """Whether *pid* shares our network namespace (True when that cannot be read)."""
    try:
        return os.readlink(f"/proc/{pid}/ns/net") == os.readlink("/proc/self/ns/net")
    except OSError:
        return True


# -- addresses -----------------------------------------------------------------


def local_addresses() -> set[str]:
    """Every address configured on this host's interfaces (this namespace)."""
    found: set[str] = set()
    try:
        for addrs in psutil.net_if_addrs().values():
            for a in addrs:
                if a.family in (2, 10):  # AF_INET, AF_INET6
                    norm = _norm(a.address.split("%", 1)[0])
                    if norm:
                        found.add(norm)
    except (OSError, psutil.Error):
        pass
    return found


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        ip = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def _norm(text: str) -> str:
    ip = _ip(text)
    return str(ip) if ip is not None else ""


def _is_loopback(text: str) -> bool:
    ip = _ip(text)
    return ip is not None and ip.is_loopback


def _is_local(text: str, local: set[str]) -> bool:
    ip = _ip(text)
    if ip is None:
        return False
    return ip.is_loopback or ip.is_unspecified or str(ip) in local


def _ordered(addresses: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(n for n in (_norm(a) for a in addresses) if n))


# -- the machine ----------------------------------------------------------------


def available_tools() -> tuple[str, ...]:
    """Service managers whose commands make sense here (read-only queries)."""
    tools = []
    if find_program("systemctl") and os.path.isdir("/run/systemd/system"):
        tools.append("systemd")
    if find_program("docker"):
        tools.append("docker")
    if find_program("kubectl"):
        tools.append("kubectl")
    return tuple(tools)


def _hostname() -> str:
    try:
        return os.uname().nodename
    except OSError:
        return ""
