"""The collector's server-mode document, read into typed, sanitised evidence.

Read with the same readers as this host's own: the sockets become a
:class:`~probes.host.local.LocalData` seen *from the server* (so the local rules —
loopback only, nothing listening, fd limits, OOM kills, memory pressure — judge it
unchanged), the ruleset is evaluated on its input hooks by :mod:`probes.host.firewall`,
unit files are read by :func:`probes.host.owner.units_in_texts` and OOM records by
:func:`probes.host.system.parse_oom_records`.  Every remote string is sanitised and
capped before it is stored.
"""

from __future__ import annotations

import ipaddress
import json
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

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
from probes.remote.serverdata import ServerData, UnitState
from probes.remote.untrusted import as_address, as_dict, as_float, as_int, as_list, dicts

LOG_LINES = 20


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
        if not port.isdigit() or not as_address(host):
            continue
        sockets.append(
            {
                "family": 6 if ":" in host else 4,
                "state": "LISTEN",
                "laddr": host,
                "lport": int(port),
                "rq": as_int(fields[1]),
                "backlog": as_int(fields[2], -1),
            }
        )
    return {"netmedic_collector": 1, "sockets": sockets, "uid": -1}


def read_server(
    dest: str, doc: dict[str, Any], target_addresses: Sequence[str], port: int
) -> ServerData:
    """The typed, sanitised evidence in a server-mode document."""
    if doc.get("error"):
        return ServerData(dest, ssh.BAD_OUTPUT, clean_text(str(doc["error"]), 300))
    own = [a for a in (as_address(x) for x in as_list(doc.get("addresses"))) if a]
    # The connection arrives on a target address the server has, or (NAT in front of it)
    # on one of its own addresses: those are the addresses a listener must accept on.
    arrives = [a for a in target_addresses if as_address(a) in own] or [
        a for a in own if not ipaddress.ip_address(a).is_loopback and not a.startswith("fe80")
    ]
    if not own:  # not known (plain commands only): the person says the target is this host
        arrives = [a for a in target_addresses if as_address(a)]
    privileged = as_int(doc.get("uid")) == 0
    units = units_in_texts(
        ((clean_text(str(f.get("path", "")), 200), str(f.get("text", ""))[:65536])
         for f in dicts(doc.get("units"))),
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
        collect_s=as_float(doc.get("collect_s")),
    )


def _local_data(
    doc: dict[str, Any],
    arrives: Sequence[str],
    port: int,
    units: tuple[UnitFile, ...],
    privileged: bool,
) -> LocalData:
    socks = dicts(doc.get("sockets"))
    owners = {
        str(k): [as_int(p) for p in as_list(v)] for k, v in as_dict(doc.get("owners")).items()
    }
    processes = tuple(_process(p) for p in dicts(doc.get("processes")))
    names = {p.pid: p.name for p in processes}
    listeners = sorted(
        (_listener(s, owners, names) for s in socks if s.get("state") == "LISTEN"),
        key=lambda x: (x.port, x.family, x.address),
    )
    on_port = tuple(x for x in listeners if x.port == port)
    accepted = tuple(a for a in arrives if any(x.accepts(a) for x in on_port))
    on_port_conns = [
        s for s in socks if s.get("state") != "LISTEN" and as_int(s.get("lport")) == port
    ]
    states = Counter(clean_text(str(s.get("state")), 16) for s in on_port_conns)
    peers = Counter(as_address(s.get("raddr")) or "?" for s in on_port_conns)
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
    memory = as_dict(doc.get("memory"))
    kernel = as_dict(doc.get("kernel"))
    records = [str(r)[:2000] for r in as_list(kernel.get("records"))[-200:]]
    oom = OomReport(
        bool(kernel.get("readable")),
        clean_text(str(kernel.get("source", "")), 120),
        parse_oom_records(records, as_float(doc.get("monotonic"))),
        as_int(memory.get("oom_kills"), -1),
    )
    return LocalData(
        source="proc",
        privileged=privileged,
        uid=as_int(doc.get("uid"), -1),
        owners_hidden=as_int(doc.get("owners_hidden")) > 0,
        target=view,
        listeners=tuple(listeners[:200]),
        listeners_total=len(listeners),
        processes=processes,
        total=as_int(doc.get("sockets_total")),
        states=tuple(StateCount(k, n) for k, n in states.most_common()),
        busiest_ports=(),
        top_destinations=(),
        limits=Limits(0, 0, 0, 0, 0, 0, 0),
        memory=_memory(memory),
        counters={},
        oom=oom,
        tools=(),
        hostname=clean_text(str(doc.get("hostname", "")), 64),
        collect_s=as_float(doc.get("collect_s")),
        units=tuple(units),
    )


def _listener(s: dict[str, Any], owners: dict[str, list[int]], names: dict[int, str]) -> Listener:
    pids = tuple(owners.get(str(as_int(s.get("inode"))), ()))
    return Listener(
        proto="tcp",
        family=6 if as_int(s.get("family")) == 6 else 4,
        address=as_address(s.get("laddr")) or "?",
        port=as_int(s.get("lport")),
        queue=as_int(s.get("rq")),
        # /proc/net/tcp does not show a listener's backlog; ss does (the fallback)
        backlog=as_int(s.get("backlog"), -1),
        uid=as_int(s.get("uid"), -1),
        pids=pids,
        process=names.get(pids[0], "") if pids else "",
    )


def _process(p: dict[str, Any]) -> ProcessInfo:
    place = parse_cgroup(str(p.get("cgroup", ""))[:8192])
    argv = [str(a)[:512] for a in as_list(p.get("argv"))[:32]]
    return ProcessInfo(
        pid=as_int(p.get("pid")),
        name=clean_text(str(p.get("name", "")), 64),
        cmdline=clean_text(" ".join(redact_argv(argv)), 240),
        open_files=as_int(p.get("open_files"), -1),
        fd_limit=as_int(p.get("fd_limit"), -1),
        fd_limit_hard=as_int(p.get("fd_limit_hard"), -1),
        unit=place.unit,
        container=place.container,
        kubernetes=place.kubernetes,
        user_unit=place.user_unit,
        runtime=place.runtime,
    )


def _memory(memory: dict[str, Any]) -> MemoryInfo:
    info = {str(k): as_int(v) for k, v in as_dict(memory.get("meminfo")).items()}
    some = full = -1.0
    for line in str(memory.get("pressure", ""))[:1000].splitlines():
        kind, _, rest = line.partition(" ")
        for part in rest.split():
            if part.startswith("avg10="):
                value = as_float(part[6:], -1.0)
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
    fw = as_dict(value)
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
    now_mono = as_float(doc.get("monotonic"))
    for u in dicts(doc.get("unit_states"))[:4]:
        props = {str(k): str(v)[:80] for k, v in as_dict(u.get("properties")).items()}
        changed = as_float(props.get("StateChangeTimestampMonotonic"), 0.0)
        age = (
            now_mono - changed / 1e6
            if changed > 0 and now_mono
            else as_float(u.get("log_age_s"), -1.0)
        )
        yield UnitState(
            name=clean_text(str(u.get("unit", "")), 120),
            kind="unit",
            state=clean_text(props.get("ActiveState", ""), 32),
            result=clean_text(props.get("Result", ""), 32),
            exit_code=clean_text(props.get("ExecMainStatus", ""), 16),
            restarts=as_int(props.get("NRestarts"), -1),
            changed_s_ago=age,
            log=_log(u.get("log")),
            log_source=clean_text(str(u.get("log_source", "")), 200),
        )


def _containers(doc: dict[str, Any]) -> Iterable[UnitState]:
    for c in dicts(doc.get("containers"))[:4]:
        yield UnitState(
            name=clean_text(str(c.get("name", "")), 120),
            kind=clean_text(str(c.get("runtime", "docker")), 16),
            state=clean_text(str(c.get("state", "")), 32),
            result=clean_text(str(c.get("status", "")), 80),
            log=_log(c.get("log")),
            log_source="container log",
        )


def _log(value: Any) -> tuple[str, ...]:
    return tuple(clean_text(str(line), 300) for line in as_list(value)[-LOG_LINES:])
