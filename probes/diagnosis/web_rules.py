"""WebSocket upgrade and CORS preflight rules."""

from __future__ import annotations

from collections.abc import Iterator

from probes.core.model import Finding, NextStep, Severity
from probes.diagnosis.evidence import Evidence, q
from probes.proto.cors import CorsData
from probes.proto.ws import BAD_ACCEPT, OK, REJECTED, WsData

_WS_CAUSES = {
    400: "the upgrade headers did not arrive: a reverse proxy is not forwarding Upgrade/Connection, or this path is not a WebSocket endpoint",
    426: "the application wants an upgrade it did not see: a reverse proxy dropped the Upgrade/Connection headers (or speaks HTTP/1.0 upstream)",
    403: "the server refuses the upgrade: the Origin is not allowed, or authentication is missing",
    401: "the WebSocket endpoint wants authentication",
    404: "no WebSocket endpoint at this path",
    200: "the request was served as plain HTTP: the Upgrade header was stripped on the way",
    502: "the proxy could not reach or upgrade the upstream",
}


def ws_findings(ev: Evidence) -> Iterator[Finding]:
    data = ev.data("ws", WsData)
    if data is None:
        return
    lines = [
        f"GET {data.url} with Upgrade: websocket → "
        + (f"{data.status} {data.reason}" if data.status else data.detail)
    ]
    lines += [f"{k}: {v}" for k, v in data.headers]
    if data.origin:
        lines.append(f"Origin sent: {data.origin}")
    if data.state == OK:
        yield Finding(
            "ws.ok", Severity.OK, f"{data.url} upgrades to a WebSocket (101)", tuple(lines)
        )
        return
    if data.state not in (REJECTED, BAD_ACCEPT):
        yield _ws_broken(ev, data, lines)
        return
    cause = (
        "101 came back without a valid Sec-WebSocket-Accept: a proxy or a non-WebSocket server answered"
        if data.state == BAD_ACCEPT
        else _WS_CAUSES.get(
            data.status, "the server answered the upgrade with an ordinary HTTP response"
        )
    )
    http_url = data.url.replace("wss://", "https://", 1).replace("ws://", "http://", 1)
    yield Finding(
        "ws.upgrade_rejected",
        Severity.ERROR,
        f"the WebSocket upgrade to {data.url} is answered {data.status or 'without'} {data.reason}, not 101".replace(
            "  ", " "
        ),
        (*lines, f"likely cause: {cause}"),
        (
            NextStep(
                'nginx in front? It needs: proxy_http_version 1.1; proxy_set_header Upgrade $http_upgrade; proxy_set_header Connection "upgrade";'
            ),
            NextStep(
                "Repeat the upgrade by hand",
                f"curl -si --http1.1 -H 'Connection: Upgrade' -H 'Upgrade: websocket' -H 'Sec-WebSocket-Version: 13' -H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' {q(http_url)}",
            ),
            NextStep(
                "Check the path and the allowed origins in the application's WebSocket configuration"
            ),
        ),
    )


def _ws_broken(ev: Evidence, data: WsData, lines: list[str]) -> Finding:
    """The upgrade never got an HTTP answer: the same words the tcp/tls/http rules use
    (the first rule to name an id wins, so a TCP or TLS probe's version is kept)."""
    detail = data.detail.lower()
    where = ev.target.host_port
    if "refused" in detail:
        fid, title = "tcp.refused", f"{where} refuses the connection: nothing listens there"
    elif "closed the connection" in detail or "reset" in detail:
        fid, title = (
            "tcp.reset_after_connect",
            f"{where} drops the connection without answering the upgrade",
        )
    elif "ssl" in detail or "certificate" in detail or "ca file" in detail:
        fid, title = "tls.handshake_failed", f"the TLS connection to {where} fails: {data.detail}"
    else:
        fid = "ws.upgrade_rejected"
        title = f"the WebSocket upgrade to {data.url} gets no usable answer: {data.detail}"
    return Finding(
        fid,
        Severity.ERROR,
        title,
        tuple(lines),
        (
            NextStep(
                "See it happen",
                f"curl -si --http1.1 -H 'Connection: Upgrade' -H 'Upgrade: websocket' {q(data.url.replace('wss://', 'https://', 1).replace('ws://', 'http://', 1))}",
            ),
        ),
    )


def cors_findings(ev: Evidence) -> Iterator[Finding]:
    data = ev.data("cors", CorsData)
    if data is None:
        return
    lines = [
        f"OPTIONS {data.url} Origin: {data.origin}, Access-Control-Request-Method: {data.method}"
        + (
            f", Access-Control-Request-Headers: {', '.join(data.request_headers)}"
            if data.request_headers
            else ""
        )
        + (f" → {data.status}" if data.status else f": {data.detail}"),
        f"Access-Control-Allow-Origin: {data.allow_origin or '(missing)'}",
        f"Access-Control-Allow-Methods: {data.allow_methods or '(missing)'}",
        f"Access-Control-Allow-Headers: {data.allow_headers or '(missing)'}",
    ]
    if not data.origin_given:
        lines.append("no --origin given: a placeholder origin was used; pass the page's origin")
    if data.state == "ok":
        yield Finding(
            "cors.ok",
            Severity.OK,
            f"the CORS preflight from {data.origin} is allowed",
            tuple(lines),
        )
        return
    if data.state != "rejected":
        yield Finding(
            "cors.preflight_rejected",
            Severity.ERROR,
            f"the CORS preflight to {data.url} fails: {data.detail}",
            tuple(lines),
            (
                NextStep(
                    "Repeat the preflight by hand",
                    f"curl -si -X OPTIONS -H {q('Origin: ' + data.origin)} {q(data.url)}",
                ),
            ),
        )
        return
    curl = (
        f"curl -si -X OPTIONS -H {q('Origin: ' + data.origin)} "
        f"-H {q('Access-Control-Request-Method: ' + data.method)}"
        + (
            f" -H {q('Access-Control-Request-Headers: ' + ','.join(data.request_headers))}"
            if data.request_headers
            else ""
        )
        + f" {q(data.url)}"
    )
    yield Finding(
        "cors.preflight_rejected",
        Severity.ERROR,
        f"the CORS preflight from {data.origin} fails: {data.problems[0]}",
        (*lines, *(f"missing: {p}" for p in data.problems)),
        (
            NextStep(
                f"Allow the origin {data.origin} (and the method/headers above) in the server's CORS configuration; the preflight must answer 2xx"
            ),
            NextStep("Repeat the preflight by hand", curl),
        ),
    )


RULES = (ws_findings, cors_findings)
