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
from probes.proto.http import HttpData
from probes.proto.tls import TlsData
from probes.remote import ssh
from probes.remote.vantage import VantageAttempt, VantagesData, VantageView

T = TypeVar("T")
LAYERS = ("dns", "tcp", "tls", "http")
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
    )


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
    return ""


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
    return None


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
