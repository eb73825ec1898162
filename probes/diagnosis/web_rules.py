"""WebSocket upgrade and CORS preflight rules."""

from __future__ import annotations

from collections.abc import Iterator

from probes.core.model import Finding, NextStep, Severity
from probes.diagnosis.evidence import Evidence, ms, q
from probes.diagnosis.plaintext_to_tls import use_tls
from probes.proto.cors import GUESSED, CorsData
from probes.proto.ws import BAD_ACCEPT, CLOSED, DROPPED, OK, PONG_WAIT_S, REJECTED, WsData
from probes.proto.wsframes import CLOSE_CODES

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
    if data.body_excerpt:
        lines.append(f"the server says: {data.body_excerpt}")
    lines += _after_upgrade(data)
    if data.state in (CLOSED, DROPPED):
        yield _ws_closed(ev, data, lines)
        return
    if data.state == OK:
        if data.pong_s is None:
            yield Finding(
                "ws.no_pong",
                Severity.WARNING,
                f"{data.url} upgrades, but does not answer a ping within {PONG_WAIT_S:g} s",
                tuple(lines),
                (
                    NextStep(
                        "The server (or a proxy between) does not answer WebSocket pings: clients that use pings as a keep-alive will time out"
                    ),
                ),
            )
            return
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
    if "rate limit" in data.body_excerpt.lower() or data.header("retry-after"):
        cause = (
            "the server rate-limits this client (its own words above); wait and retry less often"
        )
    http_url = data.url.replace("wss://", "https://", 1).replace("ws://", "http://", 1)
    said = f": {data.body_excerpt}" if data.body_excerpt else ""
    yield Finding(
        "ws.upgrade_rejected",
        Severity.ERROR,
        f"the WebSocket upgrade to {data.url} is answered {data.status or 'without'} {data.reason}, not 101{said}".replace(
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


def _after_upgrade(data: WsData) -> list[str]:
    lines = []
    if data.state in (OK, CLOSED, DROPPED):
        lines.append(
            f"ping → pong in {ms(data.pong_s)}"
            if data.pong_s is not None
            else "ping sent: no pong" + (" (closed first)" if data.state != OK else "")
        )
    if data.state in (CLOSED, DROPPED):
        meaning = CLOSE_CODES.get(
            data.close_code, "application-defined" if data.close_code >= 4000 else ""
        )
        frame = (
            "close frame"
            if data.close_code != 1006
            else "no close frame (the TCP connection ended)"
        )
        lines.append(
            f"closed {data.closed_after_s or 0.0:.2f} s after the 101: {frame}, code {data.close_code}"
            + (f" ({meaning})" if meaning else "")
            + (f", reason: {data.close_reason}" if data.close_reason else "")
        )
    if data.hold_s:
        lines.append(f"--hold {data.hold_s:g} s: the socket was kept open without sending anything")
    if data.messages:
        lines.append(f"the server sent {data.messages} message(s) while watched")
    return lines


def _ws_closed(ev: Evidence, data: WsData, lines: list[str]) -> Finding:
    """101, then the server (or something between) ends the WebSocket."""
    reason = f' "{data.close_reason}"' if data.close_reason else ""
    code = f"{data.close_code}{reason}"
    again = f"netmedic check {q(ev.target.input)} --symptom websocket"
    if data.state == DROPPED:
        return Finding(
            "ws.idle_timeout",
            Severity.ERROR,
            f"the WebSocket to {data.url} is cut after {data.closed_after_s or 0.0:.0f} s without traffic ({code})",
            tuple(lines),
            (
                NextStep(
                    "An idle timeout between client and server (a load balancer, a reverse proxy, NAT) cuts quiet connections: raise it (nginx proxy_read_timeout, AWS ALB idle timeout) or send pings more often than it"
                ),
                NextStep(
                    "Find the cut-off: hold the socket open longer or shorter",
                    f"{again} --hold {max(1, round(data.closed_after_s or 0.0)) + 5}",
                ),
            ),
        )
    auth = data.close_code == 1008 or any(
        w in data.close_reason.lower() for w in ("auth", "key", "token", "denied", "forbidden")
    )
    return Finding(
        "ws.closed_after_upgrade",
        Severity.ERROR,
        f"{data.url} accepts the WebSocket upgrade, then closes it at once: {code}",
        tuple(lines),
        (
            NextStep(
                "The server refuses this client after the upgrade: check the key or token the tunnel sends (header or query parameter) and its permissions"
                if auth
                else "The application ends the session right away: its log says why (close code above)"
            ),
            NextStep(
                "Retry with the key from the environment",
                f"{again} --header {q('Authorization: $API_AUTHORIZATION')}",
            )
            if auth
            else NextStep("Watch it again", again),
        ),
    )


def _ws_broken(ev: Evidence, data: WsData, lines: list[str]) -> Finding:
    """The upgrade never got an HTTP answer: the same words the tcp/tls/http rules use
    (the first rule to name an id wins, so a TCP or TLS probe's version is kept)."""
    detail = data.detail.lower()
    where = ev.target.host_port
    if "refused" in detail:
        fid, title = "tcp.refused", f"{where} refuses the connection: nothing listens there"
    elif tls := use_tls(ev, lines):
        return tls
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
    if data.state == GUESSED and _refused_for_every_origin(data):
        yield _rejected_for_all(ev, data)
        return
    if data.state == GUESSED:
        yield _origin_needed(ev, data)
        return
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


def _refused_for_every_origin(data: CorsData) -> bool:
    """Every origin tried was refused, and not for being another origin: the preflight
    fails (no 2xx), or no answer carries Access-Control-Allow-Origin while none says
    it varies by origin (a server that allows some origins answers ``Vary: Origin``)."""
    problems = [problem for _origin, problem in data.guesses]
    if not problems or not all(problems):
        return False
    if all("not 2xx" in p for p in problems):
        return True
    return not data.varies_by_origin and all("Allow-Origin is missing" in p for p in problems)


def _rejected_for_all(ev: Evidence, data: CorsData) -> Finding:
    tried = ", ".join(o for o, _p in data.guesses)
    first = data.guesses[0][1]
    return Finding(
        "cors.preflight_rejected",
        Severity.ERROR,
        f"the CORS preflight to {data.url} is refused for every origin tried: {first}",
        (
            f"OPTIONS {data.url} from {tried} (no --origin given: common dev origins)",
            *(f"  {o}: refused — {p}" for o, p in data.guesses),
            f"Access-Control-Allow-Methods: {data.allow_methods or '(missing)'}",
            "whatever the page's origin, a browser refuses this: the server answers no "
            "preflight with CORS headers",
        ),
        (
            NextStep(
                "Enable CORS on the server for the page's origin: OPTIONS must answer 2xx "
                "with Access-Control-Allow-Origin (and the methods and headers it uses)"
            ),
            NextStep(
                "Repeat the preflight by hand",
                f"curl -si -X OPTIONS -H {q('Origin: ' + data.guesses[0][0])} "
                f"-H {q('Access-Control-Request-Method: ' + data.method)} {q(data.url)}",
            ),
        ),
    )


def _origin_needed(ev: Evidence, data: CorsData) -> Finding:
    """No --origin: the verdict needs the page's origin; the dev origins are guesses."""
    allowed = [o for o, problem in data.guesses if not problem]
    lines = [
        "no --origin given: the page's origin decides CORS, and only you know it",
        f"OPTIONS {data.url} from common local dev origins (guesses, not your page):",
        *(f"  {o}: {'allowed' if not p else 'refused — ' + p}" for o, p in data.guesses),
        f"Access-Control-Allow-Origin (last answer): {data.allow_origin or '(missing)'}",
        f"Access-Control-Allow-Methods: {data.allow_methods or '(missing)'}",
    ]
    any_origin = data.allow_origin == "*"
    title = (
        f"{data.url} allows any origin (*); give --origin to check your page's"
        if any_origin
        else f"{data.url}: CORS can only be judged for your page's origin; "
        + (
            f"of the dev-origin guesses it allows {', '.join(allowed)}"
            if allowed
            else "it allows none of the common dev origins"
        )
    )
    return Finding(
        "cors.origin_needed",
        Severity.INFO if allowed else Severity.WARNING,
        title,
        tuple(lines),
        (
            NextStep(
                "Check again with the origin of the page that makes the request (scheme://host:port as the browser shows it)",
                f"netmedic check {q(ev.target.input)} --symptom cors --origin {q('https://app.example.com')}",
            ),
        ),
    )


RULES = (ws_findings, cors_findings)
