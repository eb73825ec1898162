"""Probe panels by probe name.  Modules are named, not imported, until needed.

To add a dedicated panel for a new probe, write ``tui/widgets/panels/NAME.py``
with a :class:`~tui.widgets.panels.base.ProbePanel` subclass and add it to
:data:`PANELS`.  Probes without an entry get the generic key/value panel.
"""

from __future__ import annotations

import importlib

from probes.run.plans import PROBES
from tui.widgets.panels.base import GenericPanel, ProbePanel

PANELS: dict[str, str] = {
    "dns": "tui.widgets.panels.dns:DnsPanel",
    "route": "tui.widgets.panels.route:RoutePanel",
    "tcp": "tui.widgets.panels.tcp:TcpPanel",
    "ping": "tui.widgets.panels.ping:PingPanel",
    "trace": "tui.widgets.panels.trace:TracePanel",
    "mtu": "tui.widgets.panels.mtu:MtuPanel",
    "local": "tui.widgets.panels.local:LocalPanel",
    "tls": "tui.widgets.panels.tls:TlsPanel",
    "http": "tui.widgets.panels.http:HttpPanel",
    "connections": "tui.widgets.panels.connections:ConnectionsPanel",
    "burst": "tui.widgets.panels.burst:BurstPanel",
    "server": "tui.widgets.panels.server:ServerPanel",
    "vantages": "tui.widgets.panels.vantages:VantagesPanel",
}
TITLES = {"ping": "Ping", "trace": "Trace", "local": "Sockets", "tls": "TLS", "http": "HTTP"}


def panel_class(probe: str) -> type[ProbePanel]:
    entry = PANELS.get(probe)
    if entry is None:
        return GenericPanel
    module_name, _, attr = entry.partition(":")
    cls: type[ProbePanel] = getattr(importlib.import_module(module_name), attr)
    return cls


def make_panel(probe: str) -> ProbePanel:
    spec = PROBES.get(probe)
    title = spec.title if spec else TITLES.get(probe, probe)
    return panel_class(probe)(probe, title)
