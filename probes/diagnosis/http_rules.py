"""HTTP rules: what the status, the headers and the way the exchange ended mean."""

from __future__ import annotations

from collections.abc import Iterator

from probes.core.clocks import KERNEL, WALL, clock_label, clocked
from probes.core.model import Finding, NextStep, Severity
from probes.core.profiles import AuthConvention, auth_convention
from probes.diagnosis.evidence import Evidence, q
from probes.diagnosis.owner_steps import owner_or, port_owner
from probes.diagnosis.plaintext_to_tls import use_tls
from probes.proto.http import (
    CLOSED,
    CONNECT_ERROR,
    FAILED,
    INVALID_RESPONSE,
    NOT_HTTP,
    OK,
    RESET,
    TIMEOUT,
    TLS_ERROR,
    HttpData,
    HttpTimings,
)
from probes.proto.tls import TlsData


def _t(value: float | None) -> str:
    return "—" if value is None else f"{value * 1000:.1f} ms"


def timing_line(t: HttpTimings) -> str:
    """The kernel's figures first (they do not grow with this host's load), then the
    phases by our clock, labelled as such."""
    kernel = []
    if t.kernel_rtt_s is not None:
        kernel.append(f"TCP round trip {clocked(t.kernel_rtt_s, KERNEL)}")
    if t.kernel_think_s is not None:
        # counted in the kernel's clock ticks (1-4 ms): no finer digits
        kernel.append(f"server think time {t.kernel_think_s * 1000:.0f} ms (kernel, in ticks)")
    phases = (
        f"DNS {_t(t.dns_s)}, connect {_t(t.connect_s)}, TLS {_t(t.tls_s)}, "
        f"first byte {_t(t.ttfb_s)}, total {_t(t.total_s)} (our clock)"
    )
    return "timings: " + "; ".join([*kernel, phases])


def via_line(data: HttpData) -> list[str]:
    if not data.proxy:
        return []
    return [f"the request went via proxy {data.proxy} ({data.proxy_variable})"]


def _evidence(data: HttpData) -> list[str]:
    lines = []
    for hop in data.hops:
        line = f"GET {hop.url} → {hop.status} {hop.reason} ({hop.http_version})"
        if hop.location:
            line += f" → Location: {hop.location}"
        lines.append(line)
    lines += [f"{name}: {value}" for name, value in data.headers if name != "location"]
    if data.body_excerpt:
        lines.append(f"the server says: {data.body_excerpt}")
    if data.sent_headers:
        lines.append(f"sent custom headers: {', '.join(data.sent_headers)} (values hidden)")
    lines.append(timing_line(data.timings))
    return [*lines, *via_line(data)]


def _curl(ev: Evidence, data: HttpData, extra: str = "") -> str:
    return f"curl -sv -o /dev/null{extra} {q(data.url)}"


_STATUS: dict[int, tuple[str, Severity]] = {
    401: ("http.unauthorized", Severity.ERROR),
    403: ("http.forbidden", Severity.ERROR),
    429: ("http.rate_limited", Severity.ERROR),
    502: ("http.bad_gateway", Severity.ERROR),
    503: ("http.unavailable", Severity.ERROR),
    504: ("http.gateway_timeout", Severity.ERROR),
}


def status_findings(ev: Evidence) -> Iterator[Finding]:
    data = ev.data("http", HttpData)
    if data is None or data.state != OK:
        return
    lines = tuple(_evidence(data))
    host = ev.target.host
    front = data.header("server") or data.header("via") or "the server"
    # The unit or container serving the port (a target on this host), for the
    # findings that send the person to the service's state and log.
    owner = port_owner(ev)
    named, why = (owner.steps, (owner.why,)) if owner else ((), ())
    if data.redirect_loop:
        yield Finding(
            "http.redirect_loop",
            Severity.ERROR,
            f"redirects from {data.url} never settle ({len(data.hops)} hops)",
            lines,
            (
                NextStep("Follow the chain by hand", f"curl -sIL --max-redirs 10 {q(data.url)}"),
                NextStep(
                    "Usual causes: http↔https redirects behind a TLS-terminating proxy (X-Forwarded-Proto not passed), or www/non-www rules that undo each other"
                ),
            ),
        )
        return
    code = data.status
    fid, severity = _STATUS.get(code, ("", Severity.OK))
    if data.expected_status and code == data.expected_status:
        yield Finding(
            "http.ok",
            Severity.OK,
            f"{data.url} answers {code} {data.reason}, as the saved service expects",
            lines,
        )
        return
    if data.expected_status and code < 400:
        yield Finding(
            "http.unexpected_status",
            Severity.WARNING,
            f"{data.url} answers {code} {data.reason}; the saved service expects {data.expected_status}",
            (*lines, *why),
            (
                NextStep(
                    "The health path answers, but not as expected: check the path and the service's state"
                ),
                NextStep("See the exchange", f"curl -sv {q(data.url)}"),
                *named,
            ),
        )
        return
    if code == 401:
        yield _unauthorized(ev, data, lines)
    elif code == 403:
        said = f": {data.body_excerpt}" if data.body_excerpt else ""
        yield Finding(
            fid,
            severity,
            f"{host} refuses the request (403 Forbidden){said}",
            lines,
            (
                NextStep(
                    "The server's own words above say why"
                    if said
                    else "The credentials are known but lack permission, or an allow list (IP, WAF) blocks this client: check the server's access log for this request"
                ),
                NextStep("See the exchange and the body's reason", f"curl -sv {q(data.url)}"),
            ),
        )
    elif code == 429:
        retry = data.header("retry-after")
        yield Finding(
            fid,
            severity,
            f"{host} rate-limits this client (429)" + (f"; Retry-After: {retry}" if retry else ""),
            lines,
            (
                NextStep(
                    f"Wait {retry + ' s' if retry.isdigit() else 'as Retry-After says'} and slow the client down (back off, honour Retry-After)"
                ),
                NextStep(
                    "Check the limit headers and the quota for this key or address", _curl(ev, data)
                ),
            ),
        )
    elif code in (502, 504):
        what = "an invalid answer" if code == 502 else "no answer in time"
        yield Finding(
            fid,
            severity,
            f"the proxy in front of {host} ({front}) got {what} from its upstream ({code})",
            (*lines, "the proxy answered; the application behind it failed", *why),
            (
                NextStep(
                    "Check the upstream application behind the proxy: is it running and listening?"
                ),
                NextStep(
                    "Read the proxy's error log (nginx: /var/log/nginx/error.log)",
                    "tail -n 50 /var/log/nginx/error.log",
                ),
                *named,
                NextStep(
                    "Compare the proxy's upstream timeout with the application's response time"
                    if code == 504
                    else "Check the upstream address and port in the proxy configuration"
                ),
            ),
        )
    elif code == 503:
        retry = data.header("retry-after")
        yield Finding(
            fid,
            severity,
            f"{host} is unavailable (503)" + (f"; Retry-After: {retry}" if retry else ""),
            (*lines, *why),
            (
                NextStep(
                    "The service is overloaded, in maintenance, or has no healthy backends: check its health and logs"
                ),
                *owner_or(owner, NextStep("Check the status of the service", "systemctl --failed")),
            ),
        )
    elif code >= 500:
        yield Finding(
            "http.server_error",
            Severity.ERROR,
            f"{host} fails with {code} {data.reason}",
            (*lines, *why),
            (
                NextStep("Read the application's error log for this request"),
                *named,
                NextStep("See the exchange", _curl(ev, data)),
            ),
        )
    elif code >= 400 and _websocket_answer(ev, code):
        yield Finding(
            "http.client_error",
            Severity.INFO,
            f"a plain GET to {data.url} gets {code} {data.reason}, as every WebSocket endpoint "
            "answers a request without Upgrade (the upgrade itself is checked apart)",
            lines,
        )
    elif code >= 400:
        yield Finding(
            "http.client_error",
            Severity.WARNING,
            f"{host} answers {code} {data.reason} for {data.url}"
            + (f": {data.body_excerpt}" if data.body_excerpt else ""),
            lines,
            (
                NextStep(
                    "Check the path, method and parameters the client uses (404: wrong path; 405: wrong method; 400: malformed request)"
                ),
                NextStep("See the exchange and the body's reason", f"curl -sv {q(data.url)}"),
            ),
        )
    elif code < 400:
        yield Finding(
            "http.ok",
            Severity.OK,
            f"{data.url} answers {code} {data.reason} ({data.http_version})",
            lines,
        )


def _websocket_answer(ev: Evidence, code: int) -> bool:
    """A ws:// or wss:// target's plain GET answered 426 (or 400) while the WebSocket
    upgrade itself got 101: what any WebSocket library says to a plain request."""
    from probes.proto.ws import WsData

    ws = ev.data("ws", WsData)
    return (
        ev.target.scheme in ("ws", "wss")
        and code in (400, 426)
        and ws is not None
        and ws.status == 101
    )


def retry_command(ev: Evidence, convention: AuthConvention) -> str:
    """``netmedic check`` again with the key's header; pastes as is (every value quoted)."""
    target = ev.target.input
    return (
        f"netmedic check {q(target)} --header {q(f'{convention.header}: ${convention.variable}')}"
    )


def _unauthorized(ev: Evidence, data: HttpData, lines: tuple[str, ...]) -> Finding:
    challenge = data.header("www-authenticate")
    convention = auth_convention(challenge, data.body_excerpt, ev.target, data.service_kind)
    sent = (
        f"credentials were sent ({', '.join(data.sent_headers) or 'URL user:password'}; values hidden)"
        if data.sent_headers or ev.target.has_credentials
        else "no credentials were sent"
    )
    said = f": {data.body_excerpt}" if data.body_excerpt else ""
    if challenge:
        said = f": {challenge}" + (f" ({data.body_excerpt})" if data.body_excerpt else "")
    var = convention.variable  # one of ours: [A-Z_]+, safe inside double quotes
    export = f'export {var}="{convention.scheme} ${{{var}_TOKEN}}"' if convention.scheme else ""
    steps = [
        NextStep(
            f"Send the key the way this API wants it: in the {convention.header} header"
            + (
                f", {convention.scheme} scheme"
                if convention.scheme
                else ", the key alone as its value"
            )
            + f" ({convention.why}); check that it is current"
        ),
    ]
    if export:
        steps.append(
            NextStep(
                f"Put the whole header value in {convention.variable} (the token itself in "
                f"{convention.variable}_TOKEN)",
                export,
            )
        )
    steps += [
        NextStep(
            f"Retry with the key from the environment variable {convention.variable}",
            retry_command(ev, convention),
        ),
        NextStep("See the exchange", _curl(ev, data)),
    ]
    return Finding(
        "http.unauthorized",
        Severity.ERROR,
        f"{ev.target.host} wants authentication (401){said}",
        (
            *lines,
            f"{sent}; challenge: {challenge or '(no WWW-Authenticate header)'}",
            f"the API key convention: {convention.header}"
            + (f" ({convention.scheme})" if convention.scheme else "")
            + f" — {convention.why}",
        ),
        tuple(steps),
    )


def exchange_failures(ev: Evidence) -> Iterator[Finding]:
    """The exchange ended without a usable response: say how."""
    data = ev.data("http", HttpData)
    if data is None or data.state == OK or data.state.startswith("proxy_"):
        return  # proxy failures: proxy_rules
    if data.hops:
        yield from _redirect_broken(ev, data)
        return
    host, port = ev.target.host, ev.target.port
    lines = (f"GET {data.url}{data.via}: {data.detail}", timing_line(data.timings))
    if data.state == TLS_ERROR or data.phase == "tls":
        if ev.data("tls", TlsData) is None and data.peer_protocol:
            yield Finding(
                "tls.not_tls",
                Severity.ERROR,
                f"port {port} on {host} does not speak TLS: it speaks {data.peer_protocol}",
                (*lines, f"server answer: {data.peer_banner}"),
                (
                    NextStep(
                        "Use the plaintext scheme (http:// instead of https://), or the port where TLS is served"
                    ),
                ),
            )
        elif ev.data("tls", TlsData) is None:  # no TLS probe ran to explain it
            yield Finding(
                "tls.handshake_failed",
                Severity.ERROR,
                f"the TLS connection to {host}:{port} fails: {data.detail}",
                lines,
                (
                    NextStep(
                        "Inspect the certificate and handshake",
                        f"netmedic check {q(ev.target.input)} --symptom tls",
                    ),
                ),
            )
        return  # the TLS probe's finding explains it
    if data.state == TIMEOUT and data.phase == "connect":
        yield _connect_failure(ev, data, "tcp.filtered", lines)
    elif data.state == TIMEOUT:
        yield Finding(
            "http.timeout",
            Severity.ERROR,
            f"{host} starts answering but the response does not finish in time"
            if data.phase == "body"
            else f"{host} accepts the connection but does not answer the request in time",
            (
                *lines,
                f"stopped while waiting for the {'body' if data.phase == 'body' else 'response'}",
            ),
            (
                NextStep(
                    "Time the phases yourself",
                    f"curl -sv -o /dev/null -w '%{{time_connect}} %{{time_starttransfer}} %{{time_total}}\\n' --max-time 30 {q(data.url)}",
                ),
                NextStep(
                    "The application is stuck or overloaded: check its worker pool, slow queries and logs"
                ),
                NextStep(
                    "Look for piled-up connections on the server",
                    f"ss -tan 'sport = :{port}' | wc -l",
                ),
            ),
        )
    elif data.state == NOT_HTTP:
        spoken = data.peer_protocol or "an unknown protocol"
        banner = f" (banner: {data.peer_banner})" if data.peer_banner else ""
        yield Finding(
            "http.not_http",
            Severity.ERROR,
            f"port {port} on {host} does not speak HTTP: it speaks {spoken}",
            (*lines, f"server sent: {spoken}{banner}"),
            (
                NextStep("Check the port: the HTTP service may listen elsewhere"),
                NextStep("See what the port says", f"nc -v {q(host)} {port}"),
            ),
        )
    elif data.state == INVALID_RESPONSE:
        yield Finding(
            "http.invalid_response",
            Severity.ERROR,
            f"{host} answers HTTP, but its response breaks the protocol: {data.defect}",
            (*lines, f"defect: {data.defect}", "clients (curl, browsers, proxies) reject it"),
            (
                NextStep("See the raw response", f"curl -sv --raw -o /dev/null {q(data.url)}"),
                NextStep(
                    "Fix the application or the proxy that writes this header (a value with a NUL or line break usually comes from unescaped data)"
                ),
            ),
        )
    elif data.state in (RESET, CLOSED) and (tls := use_tls(ev, lines)):
        yield tls
    elif data.state in (RESET, CLOSED):
        how = "resets" if data.state == RESET else "closes"
        when = data.hangup_when or "after the request"
        owner = port_owner(ev)
        yield Finding(
            "tcp.reset_after_connect",
            Severity.ERROR,
            f"{host}:{port} accepts the connection and {how} it {when}, without a response",
            (
                *lines,
                f"{'reset (RST)' if data.state == RESET else 'closed (FIN)'} {when}"
                + (
                    " — it hangs up at once, without reading anything"
                    if when.startswith("before")
                    else ""
                ),
                *([owner.why] if owner else []),
            ),
            (
                NextStep("See it happen", f"curl -sv {q(data.url)}"),
                NextStep(
                    "The server crashed on the request, or rejects this client (connection limit, allow list, TLS expected, wrong virtual host): check its logs"
                ),
                *(owner.steps if owner else ()),
                NextStep(
                    "Count connections on the server's port", f"ss -tan 'sport = :{port}' | wc -l"
                ),
            ),
        )
    elif data.state == CONNECT_ERROR:
        refused = "refused" in data.detail.lower()
        yield _connect_failure(ev, data, "tcp.refused" if refused else "tcp.filtered", lines)
    elif data.state == FAILED:
        yield Finding(
            "http.request_failed",
            Severity.ERROR,
            f"the request to {data.url} cannot be made: {data.detail}",
            lines,
            (NextStep("See it happen", f"curl -sv {q(data.url)}"),),
        )


def _connect_failure(ev: Evidence, data: HttpData, fid: str, lines: tuple[str, ...]) -> Finding:
    """The HTTP connect failed (the TCP probe, when it ran, says the same with more detail)."""
    what = "refuses the connection" if fid == "tcp.refused" else "does not answer the connection"
    owner = port_owner(ev) if fid == "tcp.refused" else None
    return Finding(
        fid,
        Severity.ERROR,
        f"{ev.target.host_port} {what}",
        (*lines, *([owner.why] if owner else [])),
        (
            NextStep("Check the port", f"nc -zv -w 3 {q(ev.target.host)} {ev.target.port}"),
            *(owner.steps if owner else ()),
        ),
    )


def _redirect_broken(ev: Evidence, data: HttpData) -> Iterator[Finding]:
    last = data.hops[-1]
    why = data.detail or data.state
    if data.state in (RESET, CLOSED):
        why = f"{'reset' if data.state == RESET else 'closed'} {data.hangup_when}: {why}"
    yield Finding(
        "http.redirect_broken",
        Severity.ERROR,
        f"the redirect from {last.url} to {data.failed_url or last.location} fails: {why}",
        (
            *_evidence(data),
            f"hop {len(data.hops) + 1}: GET {data.failed_url or last.location}{data.via} → {data.state}: {why}",
        ),
        (
            NextStep(
                "Fix the Location the server sends (a name only resolvable inside, a port that is closed, a wrong scheme)"
            ),
            NextStep("Follow the chain by hand", f"curl -sIL --max-redirs 10 {q(data.url)}"),
        ),
    )


# Slow first byte: the server's own think time (request sent → first byte) is
# "slow" above an absolute floor and when it dwarfs the network round trip
# (the TCP connect time of the same request, or the TCP probe's / ping's RTT):
# then the network is not the reason.  1 s and 10x keep ordinary API latencies
# (tens of ms over a ms-RTT LAN) and slow links (300 ms RTT, 1 s TTFB) quiet.
SLOW_THINK_S = 1.0
SLOW_RATIO = 10.0


def slow_first_byte(ev: Evidence) -> Iterator[Finding]:
    data = ev.data("http", HttpData)
    if data is None or data.state != OK:
        return
    wait = data.timings.server_wait
    path = _path_rtt(ev, data)
    if wait is None or path is None or wait[0] < SLOW_THINK_S:
        return
    think, think_clock = wait
    rtt, clock, how = path
    if think < SLOW_RATIO * rtt:
        return
    yield Finding(
        "http.slow_response",
        Severity.WARNING,
        f"{ev.target.host} takes {think:.2f} s to send its first byte; the network round trip is {clocked(rtt, clock)}",
        (
            f"server think time (request sent → first byte): {think * 1000:.0f} ms ({clock_label(think_clock)})",
            f"network round trip ({how}): {clocked(rtt, clock)} — {think / max(rtt, 1e-6):.0f}x less",
            *_evidence(data),
        ),
        (
            NextStep(
                "The time is spent in the server, not on the network: check the application's slow-request log, its database queries and upstream calls"
            ),
            NextStep(
                "Time it yourself",
                f"curl -s -o /dev/null -w 'connect %{{time_connect}} first byte %{{time_starttransfer}}\\n' {q(data.url)}",
            ),
        ),
    )


def _path_rtt(ev: Evidence, data: HttpData) -> tuple[float, str, str] | None:
    """The network round trip seen in this run, as (seconds, clock, where from).

    The kernel's figures first (TCP_INFO of the request's own connection, of the
    TCP probe's connects): they hold while this process is starved of CPU, when a
    connect timed by our event loop can read hundreds of ms.  Our clock's connect
    only when the kernel has no figure; it can only overstate the round trip."""
    from probes.net.tcp import TcpData

    tcp = ev.data("tcp", TcpData)
    attempts = [a for a in tcp.attempts if a.ok] if tcp is not None else []
    kernel = [a.kernel_rtt_s for a in attempts if a.kernel_rtt_s is not None]
    if data.timings.kernel_rtt_s is not None and not data.proxy:
        kernel.append(data.timings.kernel_rtt_s)
    if kernel:
        return min(kernel), KERNEL, "TCP_INFO of this run's connections"
    wall = [a.elapsed_s for a in attempts]
    if data.timings.connect_s is not None and not data.proxy:
        wall.append(data.timings.connect_s)
    if wall:
        return min(wall), WALL, "TCP connect"
    return None


RULES = (status_findings, exchange_failures, slow_first_byte)
