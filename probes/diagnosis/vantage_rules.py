"""The same check from other places (``--from``): the first layer where they differ.

Layer by layer (DNS answers, TCP per address, the TLS leaf, the HTTP status, the path),
this host against each vantage; the first layer where the places differ is the finding,
one per layer with every vantage that differs there named.  When the connection fares
differently, the path layer is the evidence that locates it: where the packets from
each place stop.
"""

from __future__ import annotations

from collections.abc import Iterator

from probes.core.model import Finding, NextStep, Severity
from probes.diagnosis.evidence import Evidence, q
from probes.remote.compare import (
    arrives,
    cell,
    first_difference,
    here_view,
    paths_compared,
    shown_path,
)
from probes.remote.vantage import VantagePath, VantagesData, VantageView


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
        located = _located(here, open_there[0], blocked="here")
        return Finding(
            "path.blocked_from_here",
            Severity.ERROR,
            f"{here.tcp_state} from here, open from {_names(open_there)}: something between this "
            f"host and the server blocks port {port} (a firewall on the way, or the server's "
            "rules for this host's address)",
            (*_table_lines(here, views, "tcp"), *_path_lines(here, open_there)),
            (
                *located,
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
        (*_table_lines(here, views, "tcp"), *_path_lines(here, views)),
        (
            *_located(here, views[0], blocked="there"),
            NextStep(
                f"See where the path from {views[0].name} stops",
                f"ssh {q(views[0].dest)} tracepath -n {q(ev.target.host)}",
            ),
        ),
    )


def _path_lines(here: VantageView, views: list[VantageView]) -> list[str]:
    """Each place's path to the address: "path from here (icmp): goes silent after ..."."""
    lines = []
    for view in [here, *views[:4]]:
        pair = paths_compared(here, view)
        path = pair[1] if pair else view.path_to()
        if path is not None:
            where = "here" if view is here else view.name
            lines.append(f"path from {where} ({_how(path)}): {path.describe()}: {_hops(path)}")
    return lines


def _how(path: VantagePath) -> str:
    clock = {"collector": "round trips by the remote script's clock"}.get(path.clock, "")
    return f"{path.protocol}, {clock}" if clock else path.protocol


def _hops(path: VantagePath) -> str:
    hops = [f"{h.address} ({_ms(h.ms)})" if h.address else "*" for h in path.hops]
    return " → ".join(hops) or "no hop answered"


def _ms(ms: float) -> str:
    return f"{ms:.1f} ms" if ms >= 0.1 else "<0.1 ms"


def _located(here: VantageView, there: VantageView, blocked: str) -> tuple[NextStep, ...]:
    """Where the failing place's path stops, as the step that says where to look (with the
    working place's path beside it when both traced it); when it reaches the address, a
    rule for the port is what blocks, not routing."""
    pair = paths_compared(here, there)
    mine, theirs = pair if pair else (shown_path(here), shown_path(there))
    failing, working = (mine, theirs) if blocked == "here" else (theirs, mine)
    failing_name, working_name = ("here", there.name) if blocked == "here" else (there.name, "here")
    if failing is None:
        return ()
    if failing.reached:
        source = "this host's address" if blocked == "here" else f"{there.name}'s address"
        return (
            NextStep(
                f"The path reaches {failing.address} from {failing_name} too "
                f"({failing.stopped_at} hops): routing works, so a rule for the port drops "
                f"traffic from {source}, on the way or on the server"
            ),
        )
    last = failing.last_hop
    if last is None:
        return ()
    beside = f"; from {working_name} it {working.describe()}" if working is not None else ""
    return (
        NextStep(
            f"From {failing_name} the path {failing.describe()}{beside}: look at the firewall "
            f"or route on hop {last.ttl} ({last.address}) and the next one"
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


def _path(ev: Evidence, here: VantageView, views: list[VantageView]) -> Finding:
    pair = paths_compared(here, views[0])
    assert pair is not None  # the layer differs: both places traced it
    mine, theirs = pair
    # The connection fails from both places (or the layers above agree): where packets
    # stop tells where to look, it is not the failure itself.
    severity = _severity(arrives(here, mine), arrives(views[0], theirs))
    return Finding(
        "path.differs_by_vantage",
        Severity.WARNING if severity == Severity.ERROR else severity,
        f"from here the path {mine.describe()}; from {_names(views)} it {theirs.describe()}",
        tuple(_table_lines(here, views, "path") + _path_lines(here, views)),
        (NextStep("See the path from here hop by hop", f"tracepath -n {q(mine.address)}"),),
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


BUILDERS = {"dns": _dns, "tcp": _tcp, "tls": _tls, "http": _http, "path": _path}


RULES = (differences,)
