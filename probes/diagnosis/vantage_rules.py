"""The same check from other places (``--from``): the first layer where they differ.

Layer by layer (DNS answers, TCP per address, the TLS leaf, the HTTP status), this
host against each vantage; the first layer where the places differ is the finding,
one per layer with every vantage that differs there named.
"""

from __future__ import annotations

from collections.abc import Iterator

from probes.core.model import Finding, NextStep, Severity
from probes.diagnosis.evidence import Evidence, q
from probes.remote.compare import cell, first_difference, here_view
from probes.remote.vantage import VantagesData, VantageView


def _data(ev: Evidence) -> VantagesData | None:
    return ev.data("vantages", VantagesData)


def differences(ev: Evidence) -> Iterator[Finding]:
    data = _data(ev)
    if data is None:
        return
    here = here_view(ev.results)
    by_layer: dict[str, list[VantageView]] = {}
    for view in data.views:
        if view.reached:
            layer = first_difference(here, view)
            if layer:
                by_layer.setdefault(layer, []).append(view)
    for layer, views in by_layer.items():
        yield BUILDERS[layer](ev, here, views)


def _table_lines(here: VantageView, views: list[VantageView], layer: str) -> list[str]:
    lines = [f"here: {cell(here, layer) or '-'}"]
    lines += [f"{v.name}: {cell(v, layer) or '-'}" for v in views[:8]]
    if len(views) > 8:
        lines.append(f"... and {len(views) - 8} more vantages")
    return lines


def _names(views: list[VantageView]) -> str:
    names = ", ".join(v.name for v in views[:3])
    return names + (f" and {len(views) - 3} more" if len(views) > 3 else "")


def _dns(ev: Evidence, here: VantageView, views: list[VantageView]) -> Finding:
    host = ev.target.host
    there = views[0]
    return Finding(
        "dns.differs_by_vantage",
        _severity(here.tcp_state == "open", there.tcp_state == "open"),
        f"{host} resolves to {', '.join(here.addresses) or 'nothing'} here and to "
        f"{', '.join(there.addresses) or 'nothing'} from {_names(views)}: split horizon or a stale resolver",
        tuple(_table_lines(here, views, "dns")),
        (
            NextStep("See what this host's resolver answers", f"getent ahosts {q(host)}"),
            NextStep("Look for a hosts-file entry here", f"grep -n {q(host)} /etc/hosts"),
            NextStep(
                "Make both places use the same view of the name (the same resolvers or zone), "
                "or flush the stale cache"
            ),
        ),
    )


def _tcp(ev: Evidence, here: VantageView, views: list[VantageView]) -> Finding:
    port = ev.target.port
    open_there = [v for v in views if v.tcp_state == "open"]
    if open_there and here.tcp_state != "open":
        return Finding(
            "path.blocked_from_here",
            Severity.ERROR,
            f"{here.tcp_state} from here, open from {_names(open_there)}: something between this "
            f"host and the server blocks port {port} (a firewall on the way, or the server's "
            "rules for this host's address)",
            tuple(_table_lines(here, views, "tcp")),
            (
                NextStep("See where the path from here stops", f"tracepath -n {q(ev.target.host)}"),
                NextStep(
                    "Compare this host's source address with the vantage's: rules allowing one "
                    "network and not the other",
                    f"ip route get {q(here.addresses[0]) if here.addresses else q(ev.target.host)}",
                ),
            ),
        )
    return Finding(
        "path.blocked_from_vantage",
        Severity.WARNING,
        f"open from here, {views[0].tcp_state} from {_names(views)}: the server is reachable, "
        "but not from everywhere",
        tuple(_table_lines(here, views, "tcp")),
        (
            NextStep(
                f"See where the path from {views[0].name} stops",
                f"ssh {q(views[0].dest)} tracepath -n {q(ev.target.host)}",
            ),
        ),
    )


def _tls(ev: Evidence, here: VantageView, views: list[VantageView]) -> Finding:
    there = views[0]
    # CDNs and load balancers may serve several valid certificates: a difference is a
    # problem when it is the one this host cannot trust.
    return Finding(
        "tls.differs_by_vantage",
        _severity(here.tls_verified, there.tls_verified),
        f"a different certificate from here than from {_names(views)}"
        + (
            ": an intercepting proxy or another server answers this host"
            if not here.tls_verified
            else " (both trusted: several certificates for the name, or a trusted proxy)"
        ),
        tuple(_table_lines(here, views, "tls")),
        (
            NextStep(
                "See the certificate this host gets",
                f"openssl s_client -connect {q(f'{ev.target.host}:{ev.target.port}')} "
                f"-servername {q(ev.target.host)} </dev/null | openssl x509 -noout -issuer -subject -fingerprint -sha256",
            ),
        ),
    )


def _http(ev: Evidence, here: VantageView, views: list[VantageView]) -> Finding:
    return Finding(
        "http.differs_by_vantage",
        _severity(here.http_status < 400, views[0].http_status < 400),
        f"HTTP {here.http_status or '-'} here, {views[0].http_status or '-'} from {_names(views)}: "
        "the server (or a proxy, load balancer or geo rule) answers places differently",
        tuple(_table_lines(here, views, "http")),
        (NextStep("See the whole response here", f"curl -sv -o /dev/null {q(ev.target.url)}"),),
    )


def _severity(works_here: bool, works_there: bool) -> Severity:
    """A difference between places matters as much as what it does here: it explains a
    failure here (error), a failure only there (warning), or nothing either way (info:
    geo DNS, rotating load balancers)."""
    if works_there and not works_here:
        return Severity.ERROR
    if works_here and not works_there:
        return Severity.WARNING
    return Severity.INFO


BUILDERS = {"dns": _dns, "tcp": _tcp, "tls": _tls, "http": _http}


RULES = (differences,)
