"""Proxy rules: the configured proxy wants auth, cannot be reached, or fails upstream."""

from __future__ import annotations

from collections.abc import Iterator

from probes.core.model import Finding, NextStep, Severity
from probes.diagnosis.evidence import Evidence, q
from probes.proto.http import shown_url
from probes.proto.proxy import AUTH_REQUIRED, UNREACHABLE, UPSTREAM_FAILED, ProxyData


def _lines(data: ProxyData, ev: Evidence) -> list[str]:
    lines = [f"{var}={value}" for var, value in data.settings]
    if data.variable:
        lines.append(f"{data.variable} applies to {ev.target.host_port}: proxy {data.proxy}")
    if data.bypassed_by:
        lines.append(f"NO_PROXY entry {data.bypassed_by!r} bypasses the proxy for {ev.target.host}")
    if data.status:
        lines.append(f"{data.method} through the proxy → {data.status} {data.reason}")
    if data.proxy_authenticate:
        lines.append(f"Proxy-Authenticate: {data.proxy_authenticate}")
    if data.via:
        lines.append(f"Via: {data.via}")
    if data.direct_state:
        lines.append(
            f"direct connection to {ev.target.host_port}: {data.direct_state}"
            + (f" ({data.direct_detail})" if data.direct_detail else "")
        )
    return lines


def _proxy_host(data: ProxyData) -> str:
    from urllib.parse import urlsplit

    url = data.proxy if "://" in data.proxy else f"http://{data.proxy}"
    try:
        parts = urlsplit(url)
        return f"{parts.hostname} {parts.port or 80}"
    except ValueError:
        return data.proxy


def proxy_findings(ev: Evidence) -> Iterator[Finding]:
    data = ev.data("proxy", ProxyData)
    if data is None:
        return
    lines = tuple(_lines(data, ev))
    url = shown_url(ev.target.url())  # never the raw query (it may carry a token)
    if data.state == AUTH_REQUIRED:
        realm = data.proxy_authenticate or "(no Proxy-Authenticate header)"
        sent = (
            "credentials were sent and rejected"
            if data.credentials_sent
            else "no credentials were sent"
        )
        yield Finding(
            "proxy.auth_required",
            Severity.ERROR,
            f"the proxy {data.proxy} wants authentication (407): {realm}",
            (*lines, sent),
            (
                NextStep(
                    f"Put the proxy credentials in {data.variable} (user:password@host:port), or ask for this host to be exempted"
                ),
                NextStep(
                    "Test them by hand (curl asks for the password)",
                    f"curl -sv -o /dev/null -x {q(data.proxy)} --proxy-user USER {q(url)}",
                ),
                NextStep(
                    f"Or bypass the proxy for {ev.target.host} if it is internal",
                    f"export NO_PROXY={q(ev.target.host)}",
                ),
            ),
        )
    elif data.state == UNREACHABLE:
        yield Finding(
            "proxy.unreachable",
            Severity.ERROR,
            f"the configured proxy {data.proxy} cannot be reached",
            (*lines, data.detail),
            (
                NextStep(
                    "Check that the proxy is up and the address is right",
                    f"nc -zv {_proxy_host(data)}",
                ),
                NextStep(f"Fix or unset {data.variable}", "env | grep -i _proxy"),
                NextStep(
                    f"If {ev.target.host} is reachable directly, add it to NO_PROXY",
                    f"export NO_PROXY={q(ev.target.host)}",
                ),
            ),
        )
    elif data.state == UPSTREAM_FAILED:
        yield Finding(
            "proxy.upstream_failed",
            Severity.ERROR,
            f"the proxy {data.proxy} cannot reach {ev.target.host_port} ({data.status} {data.reason})",
            lines,
            (
                NextStep(
                    "The proxy's own network or ACL blocks the target: ask its owner, or check its access log"
                ),
                NextStep(
                    f"If {ev.target.host} is internal, bypass the proxy",
                    f"export NO_PROXY={q(ev.target.host)}",
                ),
            ),
        )
    elif data.settings:
        yield Finding(
            "proxy.settings",
            Severity.INFO,
            "proxy settings in effect"
            + (
                f": {data.variable} is used ({data.state})"
                if data.applies
                else ": none applies to this target"
            ),
            lines,
        )


RULES = (proxy_findings,)
