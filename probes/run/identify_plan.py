"""When a URL's own probe hears nothing it understands: ask the port what it speaks.

``http://`` aimed at a Redis port waits for an HTTP answer that never comes, ``smtp://``
at an HTTP port for a greeting; ``redis://`` at a TLS port is hung up on.  Alone, each
reads as a timeout or a reset.  An engineer then asks the port in the protocols it
might speak instead; so does the identify probe (``probes/proto/identify.py``), and
``probes/diagnosis/mismatch_rules.py`` names what it heard.

It is asked when the tcp probe found the port open and silent (no banner, not even
after its nudge) and the URL's own probe (its *speaker*: tls for ``https://``, service
for ``redis://``...) has no answer yet, or timed out, or was hung up on.  A server of
the right protocol has answered by then (the tcp probe listens over a second); one
that says a banner (SSH) needs no question, nor one that drops even the connects that
sent nothing (a port that resets everything speaks nothing).
"""

from __future__ import annotations

from collections.abc import Mapping

from probes.core.model import ProbeResult
from probes.core.target import Target
from probes.net.tcp import OPEN, TcpData

# The probe that speaks each scheme's first protocol.
SPEAKER: dict[str, str] = {
    "http": "http",
    "ws": "ws",
    "https": "tls",
    "wss": "tls",
    "tls": "tls",
    "smtp": "tls",  # STARTTLS: the SMTP greeting comes first
    "redis": "service",
    "rediss": "service",
    "postgres": "service",
    "postgresql": "service",
}
_UNANSWERED_STATES = ("timeout", "reset", "closed")
_UNANSWERED_TLS = ("tls.handshake_timeout", "tls.not_tls")
_HANG_UP_WORDS = ("reset", "closed the connection", "incompleteread")


def identify_reason(target: Target, results: Mapping[str, ProbeResult]) -> str | None:
    """Why to ask the port what it speaks now, or None."""
    speaker = SPEAKER.get(target.scheme)
    if speaker is None or not _open_and_silent(results.get("tcp")):
        return None
    spoke = results.get(speaker)
    if spoke is None or not spoke.final:
        return (
            f"the port is silent and the {target.scheme}:// exchange has no answer yet: "
            "does the port speak another protocol?"
        )
    if _unanswered(spoke):
        return (
            f"the port does not answer the {target.scheme}:// exchange ({spoke.summary[:60]}): "
            "does it speak another protocol?"
        )
    return None


def _open_and_silent(tcp: ProbeResult | None) -> bool:
    """Open, and no banner named it; and it did not drop the connects that sent
    nothing (a port that resets everything speaks nothing)."""
    if tcp is None or not tcp.final:
        return False
    data = tcp.data
    if not isinstance(data, TcpData):
        return False
    return any(
        a.state == OPEN and not a.protocol and not any(r in ("reset", "eof") for r in a.repeats)
        for a in data.attempts
    )


def _unanswered(result: ProbeResult) -> bool:
    """The probe's exchange got no answer it could read: it timed out or was hung up on."""
    if result.status != "failed":
        return False
    data = result.data
    if getattr(data, "peer_protocol", "") or getattr(data, "protocol_seen", ""):
        return False  # it heard another protocol and said so itself
    if getattr(data, "status", 0):
        return False  # an HTTP status came back (a WebSocket closed after its 101)
    if getattr(data, "failure", "") in _UNANSWERED_TLS:
        return True
    if getattr(data, "state", "") in _UNANSWERED_STATES:
        return True
    detail = str(getattr(data, "detail", "")).lower()
    return any(word in detail for word in _HANG_UP_WORDS)
