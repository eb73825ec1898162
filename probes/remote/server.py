"""The server's side of the connection (``check TARGET --server DEST``).

The collector's JSON from the target host becomes typed evidence here, read with the
same readers as this host's own: the sockets become a :class:`~probes.host.local.LocalData`
seen *from the server* (so the local rules — loopback only, nothing listening, fd
limits, OOM kills, memory pressure — judge it unchanged), the ruleset is evaluated on
its input hooks by :mod:`probes.host.firewall`, unit files are read by
:func:`probes.host.owner.units_in_texts` and OOM records by
:func:`probes.host.system.parse_oom_records`.  Every remote string is sanitised and
capped before it is stored.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from probes.core.context import ProbeContext
from probes.core.model import ProbeError, ProbeResult, Status
from probes.core.sanitize import clean_text
from probes.host.firewall import (
    INPUT_HOOKS,
    FirewallRule,
    Ip,
    NftRuleset,
    iptables_blocking,
    nft_rule_texts,
)
from probes.host.local import (
    LAUNCHERS,
    WELL_KNOWN,
    Listener,
    LocalData,
    PeerCount,
    PortLoad,
    StateCount,
    TargetView,
    name_matches,
)
from probes.host.owner import UnitFile, parse_cgroup, units_in_texts
from probes.host.procinfo import ProcessInfo, redact_argv
from probes.host.system import Limits, MemoryInfo, OomReport, parse_oom_records
from probes.remote import ssh

LOG_LINES = 20


@dataclass(frozen=True, slots=True)
class UnitState:
    """The unit (or container) that serves, or should serve, the port on the server."""

    name: str  # nginx.service, or a container's name
    kind: str  # unit | docker | podman
    state: str  # active / failed / inactive / exited / running... ("" unknown)
    result: str = ""  # systemd Result= (exit-code, oom-kill, signal...)
    exit_code: str = ""
    restarts: int = -1
    changed_s_ago: float = -1.0  # since the state changed (or the log was last written)
    log: tuple[str, ...] = ()  # its last log lines, sanitised
    log_source: str = ""  # journal, a log file's path, or the runtime's logs


@dataclass(frozen=True, slots=True)
class ServerData:
    dest: str  # the SSH destination as the person gave it
    status: str  # ssh.OK or a failure class (probes.remote.ssh)
    detail: str  # ssh's words for a failure
    hostname: str = ""
    python: str = ""  # the remote python3's version ("" when the fallback ran)
    privileged: bool = False  # the collector ran as root (firewall, kernel log)
    local: LocalData | None = None  # the sockets, owners, units, OOM, memory: seen there
    firewall_backend: str = ""  # nft | iptables | "" (not readable)
    firewall_note: str = ""
    input_rules: tuple[FirewallRule, ...] = ()  # input-side rules that drop the port
    units: tuple[UnitState, ...] = ()
    fallback_listeners: tuple[str, ...] = ()  # without python3: `ss -Htln` lines
    collect_s: float = 0.0

    @property
    def reached(self) -> bool:
        return self.status == ssh.OK


async def probe_server(ctx: ProbeContext) -> AsyncIterator[ProbeResult]:
    """Collect the target host's side over SSH and read it as evidence."""
    started = time.monotonic()
    dest = ctx.config.server
    if not dest:
        yield ProbeResult("server", Status.SKIPPED, 0.0, "no --server given")
        return
    resolution = await ctx.resolution()
    params = {"mode": "server", "port": ctx.target.port}
    reply = await ssh.collect(dest, params, ctx.config.remote_timeout, ctx.config.ssh_config)
    elapsed = time.monotonic() - started
    if reply.status == ssh.NO_PYTHON:
        lines = await ssh.plain_listeners(dest, ctx.config.remote_timeout, ctx.config.ssh_config)
        if lines:
            doc = ss_document(lines)
            data = dataclasses.replace(
                read_server(dest, doc, resolution.addresses, ctx.target.port),
                status=ssh.NO_PYTHON,
                detail=reply.detail,
                fallback_listeners=lines,
            )
            yield ProbeResult(
                "server", Status.OK, time.monotonic() - started, summarize(data), data
            )
            return
    if not reply.ok:
        data = ServerData(dest, reply.status, reply.detail)
        yield ProbeResult(
            "server",
            Status.FAILED,
            elapsed,
            f"{dest}: {reply.explanation}",
            data,
            ProbeError(reply.status.upper(), f"{reply.explanation}: {reply.detail}", dest, elapsed),
        )
        return
    data = read_server(dest, reply.document, resolution.addresses, ctx.target.port)
    yield ProbeResult("server", Status.OK, elapsed, summarize(data), data)


def summarize(data: ServerData) -> str:
    if data.local is None:
        return f"{data.dest}: {data.detail or 'no evidence'}"
    serving = data.local.target.tcp_listeners
    where = ", ".join(x.endpoint for x in serving[:3]) or "nothing listens on the port"
    return f"{named(data)}: {where}"


def named(data: ServerData) -> str:
    """The destination as the person named it, and the host's own name when it differs."""
    if data.hostname and data.hostname != data.dest:
        return f"{data.dest} ({data.hostname})"
    return data.dest


# -- reading the collector's document -------------------------------------------------------


def ss_document(lines: Sequence[str]) -> dict[str, Any]:
    """A collector-shaped document from ``ss -Htln`` lines (no python3 there): listeners,
    their accept queues and backlogs; owners, units and the rest stay unknown."""
    sockets = []
    for line in lines:
        fields = line.split()
        if len(fields) < 4 or fields[0] != "LISTEN":
            continue
        host, _, port = fields[3].rpartition(":")
        host = host.strip("[]").split("%", 1)[0]
        host = {"*": "::", "": "::"}.get(host, host)
        if not port.isdigit() or not _address(host):
            continue
        sockets.append(
            {
                "family": 6 if ":" in host else 4,
                "state": "LISTEN",
                "laddr": host,
                "lport": int(port),
                "rq": _int(fields[1]),
                "backlog": _int(fields[2], -1),
            }
        )
    return {"netmedic_collector": 1, "sockets": sockets, "uid": -1}


# -- reading the collector's document -------------------------------------------------------


def read_server(
    dest: str, doc: dict[str, Any], target_addresses: Sequence[str], port: int
) -> ServerData:
    """The typed, sanitised evidence in a server-mode document."""
    if doc.get("error"):
        return ServerData(dest, ssh.BAD_OUTPUT, clean_text(str(doc["error"]), 300))
    own = [a for a in (_address(x) for x in _list(doc.get("addresses"))) if a]
    # The connection arrives on a target address the server has, or (NAT in front of it)
    # on one of its own addresses: those are the addresses a listener must accept on.
    arrives = [a for a in target_addresses if _address(a) in own] or [
        a for a in own if not ipaddress.ip_address(a).is_loopback and not a.startswith("fe80")
    ]
    if not own:  # not known (plain commands only): the person says the target is this host
        arrives = [a for a in target_addresses if _address(a)]
    privileged = _int(doc.get("uid")) == 0
    units = units_in_texts(
        ((clean_text(str(f.get("path", "")), 200), str(f.get("text", ""))[:65536])
         for f in _dicts(doc.get("units"))),
        port,
    )  # fmt: skip
    rules, backend, note = _input_rules(doc.get("firewall"), arrives, port)
    local = _local_data(doc, arrives, port, units, privileged)
    return ServerData(
        dest=dest,
        status=ssh.OK,
        detail="",
        hostname=clean_text(str(doc.get("hostname", "")), 64),
        python=clean_text(str(doc.get("python", "")), 16),
        privileged=privileged,
        local=local,
        firewall_backend=backend,
        firewall_note=note,
        input_rules=rules,
        units=(*_unit_states(doc), *_containers(doc)),
        collect_s=_float(doc.get("collect_s")),
    )


def _local_data(
    doc: dict[str, Any],
    arrives: Sequence[str],
    port: int,
    units: tuple[UnitFile, ...],
    privileged: bool,
) -> LocalData:
    socks = _dicts(doc.get("sockets"))
    owners = {str(k): [_int(p) for p in _list(v)] for k, v in _dict(doc.get("owners")).items()}
    processes = tuple(_process(p) for p in _dicts(doc.get("processes")))
    names = {p.pid: p.name for p in processes}
    listeners = sorted(
        (_listener(s, owners, names) for s in socks if s.get("state") == "LISTEN"),
        key=lambda x: (x.port, x.family, x.address),
    )
    on_port = tuple(x for x in listeners if x.port == port)
    accepted = tuple(a for a in arrives if any(x.accepts(a) for x in on_port))
    on_port_conns = [
        s for s in socks if s.get("state") != "LISTEN" and _int(s.get("lport")) == port
    ]
    states = Counter(clean_text(str(s.get("state")), 16) for s in on_port_conns)
    peers = Counter(_address(s.get("raddr")) or "?" for s in on_port_conns)
    load = (
        PortLoad(
            port,
            sum(states.values()),
            tuple(StateCount(k, n) for k, n in states.most_common()),
            tuple(PeerCount(a, n) for a, n in peers.most_common(5)),
        )
        if states
        else None
    )
    service, expected = WELL_KNOWN.get(port, ("", ()))
    if not expected:
        expected = tuple(
            dict.fromkeys(u.program for u in units if u.program and u.program not in LAUNCHERS)
        )
    view = TargetView(
        addresses=tuple(arrives),
        port=port,
        local=bool(arrives),
        local_addresses=tuple(arrives),
        listeners=on_port,
        accepted_on=accepted,
        not_accepted_on=tuple(a for a in arrives if a not in accepted),
        server=load,
        clients=(),
        ephemeral=(),
        close_wait_owners=(),
        client_pids=(),
        service=service,
        expected_names=expected,
        lookalikes=tuple(p.pid for p in processes if expected and name_matches(p.name, expected)),
    )
    memory = _dict(doc.get("memory"))
    kernel = _dict(doc.get("kernel"))
    records = [str(r)[:2000] for r in _list(kernel.get("records"))[-200:]]
    oom = OomReport(
        bool(kernel.get("readable")),
        clean_text(str(kernel.get("source", "")), 120),
        parse_oom_records(records, _float(doc.get("monotonic"))),
        _int(memory.get("oom_kills"), -1),
    )
    return LocalData(
        source="proc",
        privileged=privileged,
        uid=_int(doc.get("uid"), -1),
        owners_hidden=_int(doc.get("owners_hidden")) > 0,
        target=view,
        listeners=tuple(listeners[:200]),
        listeners_total=len(listeners),
        processes=processes,
        total=_int(doc.get("sockets_total")),
        states=tuple(StateCount(k, n) for k, n in states.most_common()),
        busiest_ports=(),
        top_destinations=(),
        limits=Limits(0, 0, 0, 0, 0, 0, 0),
        memory=_memory(memory),
        counters={},
        oom=oom,
        tools=(),
        hostname=clean_text(str(doc.get("hostname", "")), 64),
        collect_s=_float(doc.get("collect_s")),
        units=tuple(units),
    )


def _listener(s: dict[str, Any], owners: dict[str, list[int]], names: dict[int, str]) -> Listener:
    pids = tuple(owners.get(str(_int(s.get("inode"))), ()))
    return Listener(
        proto="tcp",
        family=6 if _int(s.get("family")) == 6 else 4,
        address=_address(s.get("laddr")) or "?",
        port=_int(s.get("lport")),
        queue=_int(s.get("rq")),
        # /proc/net/tcp does not show a listener's backlog; ss does (the fallback)
        backlog=_int(s.get("backlog"), -1),
        uid=_int(s.get("uid"), -1),
        pids=pids,
        process=names.get(pids[0], "") if pids else "",
    )


def _process(p: dict[str, Any]) -> ProcessInfo:
    place = parse_cgroup(str(p.get("cgroup", ""))[:8192])
    argv = [str(a)[:512] for a in _list(p.get("argv"))[:32]]
    return ProcessInfo(
        pid=_int(p.get("pid")),
        name=clean_text(str(p.get("name", "")), 64),
        cmdline=clean_text(" ".join(redact_argv(argv)), 240),
        open_files=_int(p.get("open_files"), -1),
        fd_limit=_int(p.get("fd_limit"), -1),
        fd_limit_hard=_int(p.get("fd_limit_hard"), -1),
        unit=place.unit,
        container=place.container,
        kubernetes=place.kubernetes,
        user_unit=place.user_unit,
        runtime=place.runtime,
    )


def _memory(memory: dict[str, Any]) -> MemoryInfo:
    info = {str(k): _int(v) for k, v in _dict(memory.get("meminfo")).items()}
    some = full = -1.0
    for line in str(memory.get("pressure", ""))[:1000].splitlines():
        kind, _, rest = line.partition(" ")
        for part in rest.split():
            if part.startswith("avg10="):
                value = _float(part[6:], -1.0)
                some, full = (
                    (value, full)
                    if kind == "some"
                    else (some, value)
                    if kind == "full"
                    else (some, full)
                )
    return MemoryInfo(
        total_kb=info.get("MemTotal", 0),
        available_kb=info.get("MemAvailable", info.get("MemFree", 0)),
        swap_total_kb=info.get("SwapTotal", 0),
        swap_free_kb=info.get("SwapFree", 0),
        psi_some_avg10=some,
        psi_full_avg10=full,
    )


def _input_rules(
    value: Any, arrives: Sequence[str], port: int
) -> tuple[tuple[FirewallRule, ...], str, str]:
    fw = _dict(value)
    targets: list[Ip] = [ipaddress.ip_address(a) for a in arrives]
    if fw.get("note"):
        return (), "", clean_text(str(fw["note"]), 200)
    if fw.get("backend") == "nft":
        try:
            document = json.loads(str(fw.get("json", "{}")))
        except ValueError:
            return (), "nft", "the nft ruleset could not be read"
        if not isinstance(document, dict):
            return (), "nft", "the nft ruleset could not be read"
        ruleset = NftRuleset(document, nft_rule_texts(str(fw.get("text", ""))), INPUT_HOOKS)
        try:
            rules, _bases = ruleset.blocking(targets, port)
        except (KeyError, TypeError, ValueError, AttributeError):
            return (), "nft", "the nft ruleset has a shape netmedic does not read"
        return rules, "nft", ""
    if fw.get("backend") == "iptables":
        found: list[FirewallRule] = []
        for tool, version in (("iptables-save", 4), ("ip6tables-save", 6)):
            family = [t for t in targets if t.version == version]
            text = str(fw.get(tool, ""))
            if text and family:
                found += iptables_blocking(text, family, port, version, ("PREROUTING", "INPUT"))[0]
        return tuple(found), "iptables", ""
    return (), "", ""


def _unit_states(doc: dict[str, Any]) -> Iterable[UnitState]:
    now_mono = _float(doc.get("monotonic"))
    for u in _dicts(doc.get("unit_states"))[:4]:
        props = {str(k): str(v)[:80] for k, v in _dict(u.get("properties")).items()}
        changed = _float(props.get("StateChangeTimestampMonotonic"), 0.0)
        age = (
            now_mono - changed / 1e6
            if changed > 0 and now_mono
            else _float(u.get("log_age_s"), -1.0)
        )
        yield UnitState(
            name=clean_text(str(u.get("unit", "")), 120),
            kind="unit",
            state=clean_text(props.get("ActiveState", ""), 32),
            result=clean_text(props.get("Result", ""), 32),
            exit_code=clean_text(props.get("ExecMainStatus", ""), 16),
            restarts=_int(props.get("NRestarts"), -1),
            changed_s_ago=age,
            log=_log(u.get("log")),
            log_source=clean_text(str(u.get("log_source", "")), 200),
        )


def _containers(doc: dict[str, Any]) -> Iterable[UnitState]:
    for c in _dicts(doc.get("containers"))[:4]:
        yield UnitState(
            name=clean_text(str(c.get("name", "")), 120),
            kind=clean_text(str(c.get("runtime", "docker")), 16),
            state=clean_text(str(c.get("state", "")), 32),
            result=clean_text(str(c.get("status", "")), 80),
            log=_log(c.get("log")),
            log_source="container log",
        )


def _log(value: Any) -> tuple[str, ...]:
    return tuple(clean_text(str(line), 300) for line in _list(value)[-LOG_LINES:])


# -- defensive readers: the document is untrusted ------------------------------------------


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [v for v in _list(value) if isinstance(v, dict)]


def _int(value: Any, default: int = 0) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _float(value: Any, default: float = 0.0) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return default
    return number if number == number and abs(number) < 1e15 else default


def _address(value: Any) -> str:
    try:
        return str(ipaddress.ip_address(str(value).split("%", 1)[0]))
    except ValueError:
        return ""
