"""A URL that names one protocol, a port that speaks another.

The client's own failure is then only a consequence, and reads as the wrong fault: an
SSH port says its banner and waits (``http://`` times out), an HTTP or Redis server
waits for a request in its own protocol (a TLS handshake or an SMTP greeting never
comes), a TLS server hangs up on plaintext (a "reset").  What the port speaks is known
from the tcp probe (a banner, or the answer to its nudge) or from the identify probe's
questions; when that is not what the scheme names, this is the finding, under the id
the scheme's own layer uses for it: ``http.not_http`` for http:// and ws://,
``tls.not_tls`` for https://, wss://, tls:// and rediss://, ``service.wrong_protocol``
for redis://, postgres:// and smtp://.  Ranking places the consequences after it
(``ranking.EXPLAINED_BY``).
"""

from __future__ import annotations

from collections.abc import Iterator

from probes.core.model import Finding, NextStep, Severity
from probes.diagnosis.evidence import Evidence, q
from probes.net.tcp import OPEN, TcpData
from probes.proto.identify import IdentifyData

# What each scheme expects to hear first (the outermost protocol it speaks).
EXPECTS: dict[str, str] = {
    "http": "HTTP",
    "ws": "HTTP",
    "https": "TLS",
    "wss": "TLS",
    "tls": "TLS",
    "rediss": "TLS",
    "redis": "Redis",
    "postgres": "PostgreSQL",
    "postgresql": "PostgreSQL",
    "smtp": "SMTP",
}
_FINDING_ID = {"HTTP": "http.not_http", "TLS": "tls.not_tls"}
# The scheme to use instead when the port speaks this protocol.
_INSTEAD: dict[tuple[str, str], str] = {
    ("http", "TLS"): "https",
    ("ws", "TLS"): "wss",
    ("redis", "TLS"): "rediss",
    ("https", "HTTP"): "http",
    ("wss", "HTTP"): "ws",
    ("tls", "HTTP"): "http",
    ("rediss", "Redis"): "redis",
}
_DEFAULT_PORT = {"HTTP": 80, "TLS": 443, "Redis": 6379, "PostgreSQL": 5432, "SMTP": 25}


def heard(ev: Evidence) -> tuple[str, str]:
    """(protocol, how it was heard) for the target's port, or ("", "") when unknown."""
    tcp = ev.data("tcp", TcpData)
    for attempt in tcp.attempts if tcp is not None else ():
        if attempt.state == OPEN and attempt.protocol:
            said = f": {attempt.banner}" if attempt.banner else ""
            return _plain(attempt.protocol), f"the port answers in {attempt.protocol}{said}"
    found = ev.data("identify", IdentifyData)
    answered = found.answered if found is not None else None
    if answered is not None:
        return (
            _plain(answered.protocol),
            f"{answered.sent} is answered in {answered.protocol}: {answered.reply}",
        )
    return "", ""


def _plain(protocol: str) -> str:
    return "TLS" if protocol.startswith("TLS") else protocol


def wrong_protocol(ev: Evidence) -> Iterator[Finding]:
    scheme = ev.target.scheme
    expected = EXPECTS.get(scheme)
    spoken, how = heard(ev)
    if expected is None or not spoken or spoken == expected:
        return
    host, port = ev.target.host, ev.target.port
    steps = [NextStep("See what the port says", f"nc -v {q(host)} {port}")]
    instead = _INSTEAD.get((scheme, spoken))
    if instead:
        url = f"{instead}://" + ev.target.input.split("://", 1)[-1]
        steps.insert(0, NextStep(f"Use {instead}:// (the port speaks {spoken})"))
        steps.insert(1, NextStep("Check it that way", f"netmedic check {q(url)}"))
    else:
        steps.insert(
            0,
            NextStep(
                f"Check the port in the client's configuration: {expected} usually "
                f"listens on {_DEFAULT_PORT.get(expected, 'another port')}"
            ),
        )
    yield Finding(
        _FINDING_ID.get(expected, "service.wrong_protocol"),
        Severity.ERROR,
        f"port {port} on {host} does not speak {expected}: it speaks {spoken}",
        (
            how,
            f"a {scheme}:// client expects {expected} there: its timeout or hang-up "
            "is a consequence",
        ),
        tuple(steps),
    )


RULES = (wrong_protocol,)
