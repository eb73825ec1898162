"""What the server's side is, as evidence: the typed result of ``--server``."""

from __future__ import annotations

from dataclasses import dataclass

from probes.host.firewall import FirewallRule
from probes.host.local import LocalData
from probes.remote import ssh


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
