"""Proxy rules: the configured proxy wants auth, cannot be reached, or fails upstream."""

from __future__ import annotations

from collections.abc import Iterator

from probes.core.model import Finding, NextStep, Severity
from probes.diagnosis.evidence import Evidence, q
from probes.diagnosis.proxy_steps import credential_steps
from probes.proto.http import (
    PROXY_AUTH_REQUIRED,
    PROXY_FAILED,
    PROXY_UNREACHABLE,
    PROXY_UPSTREAM_FAILED,
    HttpData,
    shown_url,
)
from probes.proto.proxy import AUTH_REQUIRED, FAILED, UNREACHABLE, UPSTREAM_FAILED, ProxyData


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
        return f"{q(parts.hostname or '')} {parts.port or 80}"
    except ValueError:  # a port that is not a number: show the value, quoted
        return q(data.proxy)


_HTTP_PROXY_IDS = {
    PROXY_UNREACHABLE: "proxy.unreachable",
    PROXY_AUTH_REQUIRED: "proxy.auth_required",
    PROXY_UPSTREAM_FAILED: "proxy.upstream_failed",
    PROXY_FAILED: "proxy.failed",
}


def http_through_proxy(ev: Evidence) -> Iterator[Finding]:
    """The HTTP request went through the environment's proxy, and the proxy failed it."""
    data = ev.data("http", HttpData)
    if data is None or data.state not in _HTTP_PROXY_IDS:
        return
    fid = _HTTP_PROXY_IDS[data.state]
    target = ev.target.host_port
    via = f"GET {data.failed_url or data.url} via proxy {data.proxy} ({data.proxy_variable})"
    lines = (f"{via}: {data.detail}", f"the proxy applies to {target}: clients use it too")
    bypass = NextStep(
        f"If {ev.target.host} is reachable directly, bypass the proxy for it",
        f"export NO_PROXY={q(ev.target.host)}",
    )
    titles = {
        "proxy.unreachable": f"the configured proxy {data.proxy} cannot be reached",
        "proxy.auth_required": f"the proxy {data.proxy} wants authentication (407)",
        "proxy.upstream_failed": f"the proxy {data.proxy} cannot reach {target}",
        "proxy.failed": f"the proxy {data.proxy} fails the request to {target}",
    }
    steps = {
        "proxy.unreachable": (
            NextStep("Check that the proxy is up and the address is right", "env | grep -i _proxy"),
        ),
        "proxy.auth_required": credential_steps(
            data.proxy_variable, data.proxy, shown_url(data.failed_url or data.url)
        ),
        "proxy.upstream_failed": (
            NextStep(
                "The proxy's own network, DNS or ACL blocks the site: ask its owner, or check its access log"
            ),
        ),
        "proxy.failed": (
            NextStep(
                "The proxy refuses this site or port (policy, CONNECT allowed only to 443) or is not an HTTP proxy: check its configuration and access log"
            ),
        ),
    }
    yield Finding(fid, Severity.ERROR, titles[fid], lines, (*steps[fid], bypass))


def proxy_findings(ev: Evidence) -> Iterator[Finding]:
    data = ev.data("proxy", ProxyData)
    if data is None:
        return
    lines = tuple(_lines(data, ev))
    http = ev.data("http", HttpData)
    if http is not None and http.proxy:
        lines += (
            f"the HTTP probe's GET {http.url} via proxy {http.proxy}: {http.detail or http.state}",
        )
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
                *credential_steps(data.variable, data.proxy, url),
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
    elif data.state == FAILED:
        yield Finding(
            "proxy.failed",
            Severity.ERROR,
            f"the proxy {data.proxy} fails the request to {ev.target.host_port}: {data.detail}",
            (*lines, data.detail),
            (
                NextStep(
                    "The proxy refuses this site or port (policy, CONNECT allowed only to 443), hangs up, or is not an HTTP proxy: check its configuration and access log"
                ),
                NextStep("Repeat it by hand", f"curl -sv -o /dev/null -x {q(data.proxy)} {q(url)}"),
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


RULES = (proxy_findings, http_through_proxy)  # the proxy probe's finding says more
