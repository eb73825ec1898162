"""This host and the other vantages, layer by layer: where do the places first differ?

``here`` is this host's own run read into the same shape as a vantage's view, so one
comparison serves the findings (probes.diagnosis.vantage_rules), the CLI's and TUI's
host x layer table and the reports.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeVar

from probes.core.model import ProbeResult
from probes.net.dns import DnsData
from probes.net.tcp import TcpData
from probes.path.ping import PingData
from probes.path.trace import DESTINATION, TraceData
from probes.proto.http import HttpData
from probes.proto.tls import TlsData
from probes.remote import ssh
from probes.remote.vantage import (
    PathHop,
    VantageAttempt,
    VantagePath,
    VantagesData,
    VantageView,
)

T = TypeVar("T")
LAYERS = ("dns", "tcp", "tls", "http", "path")
HERE = "here"


def here_view(results: Mapping[str, ProbeResult]) -> VantageView:
    """This host's answers, from its own probes' data."""
    addresses: tuple[str, ...] = ()
    resolve_error = ""
    dns = _data(results, "dns", DnsData)
    if dns is not None:
        addresses = dns.system.addresses
        resolve_error = dns.system.error.explanation if dns.system.error else ""
    tcp = _data(results, "tcp", TcpData)
    attempts = tuple(VantageAttempt(a.address, a.state) for a in tcp.attempts) if tcp else ()
    if not addresses and attempts:
        addresses = tuple(dict.fromkeys(a.address for a in attempts))
    tls = _data(results, "tls", TlsData)
    leaf = tls.leaf.sha256 if tls is not None and tls.leaf is not None else ""
    http = _data(results, "http", HttpData)
    return VantageView(
        name=HERE,
        dest="",
        status=ssh.OK,
        addresses=addresses,
        resolve_error=resolve_error,
        tcp=attempts,
        tls_leaf=leaf,
        tls_verified=bool(tls and tls.verified),
        http_status=http.status if http is not None else 0,
        paths=here_paths(results),
    )


def here_paths(results: Mapping[str, ProbeResult]) -> tuple[VantagePath, ...]:
    """This host's path to the target: its traceroute, else what ping could tell."""
    trace = _data(results, "trace", TraceData)
    if trace is not None and trace.hops:
        outcome = "reached" if trace.reached else "silent"
        detail = ""
        if not trace.reached and trace.stopped_at:
            stop = trace.hops[trace.stopped_at - 1]
            if stop.note:  # a router's ICMP error, not silence
                outcome, detail = "unreachable", stop.note
        last = max((h.ttl for h in trace.hops if h.status == DESTINATION), default=0)
        hops = tuple(
            PathHop(h.ttl, h.address, round((h.avg_s or 0.0) * 1000, 2)) for h in trace.hops
        )
        stopped = last if trace.reached else trace.stopped_at
        return (
            VantagePath(trace.address, outcome, detail, stopped, hops, trace.protocol, trace.clock),
        )
    ping = _data(results, "ping", PingData)
    paths = []
    for host in ping.hosts if ping is not None else ():
        if host.stats.received:
            paths.append(VantagePath(host.address, "reached", "answers ping", protocol="icmp"))
        elif host.unreachable:
            paths.append(
                VantagePath(host.address, "unreachable", host.unreachable, protocol="icmp")
            )
    return tuple(paths)


def _data(results: Mapping[str, ProbeResult], name: str, kind: type[T]) -> T | None:
    result = results.get(name)
    if result is None or not result.final or not isinstance(result.data, kind):
        return None
    return result.data


def cell(view: VantageView, layer: str) -> str:
    """What *view* saw at *layer*, short ("" when that layer was not looked at)."""
    if not view.reached:
        return ""
    if layer == "dns":
        if view.resolve_error:
            return "no answer"
        return ", ".join(sorted(view.addresses)[:2]) + (" …" if len(view.addresses) > 2 else "")
    if layer == "tcp":
        return view.tcp_state
    if layer == "tls":
        return view.tls_leaf[:11] if view.tls_leaf else ""
    if layer == "http":
        return str(view.http_status) if view.http_status else ""
    if layer == "path":
        path = shown_path(view)
        last = path.last_hop if path is not None else None
        if (
            path is not None
            and last is not None
            and path.outcome == "silent"
            and arrives(view, path)
        ):
            # The probes die at the end, the port answers: the address is past the last hop.
            return f"≥{last.ttl + 1} hops"
        return path_cell(path)
    return ""


def path_cell(path: VantagePath | None) -> str:
    """ "3 hops", "silent after 10.1.0.1", "unreach. at 10.2.0.1"."""
    if path is None:
        return ""
    last = path.last_hop
    if path.reached:
        return f"{path.stopped_at} hops" if path.stopped_at else "reached"
    if path.outcome == "silent":
        return f"silent after {last.address}" if last else "no hop answers"
    if path.outcome == "unreachable":
        return f"unreach. at {last.address}" if last else "unreachable"
    return "not traced"


def shown_path(view: VantageView) -> VantagePath | None:
    """The path a place's row shows: to the address its connection tried first."""
    return view.path_to(_traced(view))


def _traced(view: VantageView) -> str:
    """The address whose path a place's row shows: the one its connection tried first."""
    return view.tcp[0].address if view.tcp else ""


def paths_compared(here: VantageView, there: VantageView) -> tuple[VantagePath, VantagePath] | None:
    """The two places' paths to the same address when both traced it, else their first."""
    mine = here.path_to(_traced(here))
    if mine is None:
        return None
    theirs = there.path_to(mine.address)
    return (mine, theirs) if theirs is not None else None


def same(here: VantageView, there: VantageView, layer: str) -> bool | None:
    """Do both places see the same at *layer*?  None when one of them has no answer there."""
    if layer == "dns":
        if not here.addresses and not there.addresses:
            return None
        return set(here.addresses) == set(there.addresses)
    if layer == "tcp":
        if not here.tcp_state or not there.tcp_state:
            return None
        return (here.tcp_state == "open") == (there.tcp_state == "open")
    if layer == "tls":
        if not here.tls_leaf or not there.tls_leaf:
            return None
        return here.tls_leaf == there.tls_leaf
    if layer == "http":
        if not here.http_status or not there.http_status:
            return None
        return here.http_status == there.http_status
    if layer == "path":
        # Hops differ between places by nature; whether the address is reached does not.
        pair = paths_compared(here, there)
        if pair is None or "error" in (pair[0].outcome, pair[1].outcome):
            return None
        return arrives(here, pair[0]) == arrives(there, pair[1])
    return None


def arrives(view: VantageView, path: VantagePath) -> bool:
    """Do packets from *view*'s place get to the path's address?  The trace reached it,
    or the address answered the connect: a server that drops UDP probes (or ICMP echo)
    still answers its port, and that is no difference in the route."""
    answered = any(a.address == path.address and a.state in ("open", "refused") for a in view.tcp)
    return path.reached or answered


def first_difference(here: VantageView, there: VantageView) -> str:
    """The first layer where the two places differ ("" when they agree)."""
    for layer in LAYERS:
        if same(here, there, layer) is False:
            return layer
    return ""


@dataclass(frozen=True, slots=True)
class Row:
    name: str
    status: str  # ok, or why the vantage could not be asked
    cells: tuple[str, ...]  # one per LAYERS
    differs: str  # first layer that differs from here ("" agrees or not asked)


def table(results: Mapping[str, ProbeResult], data: VantagesData) -> tuple[Row, ...]:
    """The host x layer summary: this host first, then every vantage."""
    here = here_view(results)
    rows = [Row(HERE, ssh.OK, tuple(cell(here, layer) for layer in LAYERS), "")]
    for view in data.views:
        status = ssh.OK if view.reached else view.status
        rows.append(
            Row(
                view.name,
                status,
                tuple(cell(view, layer) for layer in LAYERS),
                first_difference(here, view) if view.reached else "",
            )
        )
    return tuple(rows)
