"""A plaintext URL (ws://, http://) aimed at a port that speaks TLS.

The server drops the plaintext request, which alone reads as "reset after connect";
the identify probe's TLS ClientHello, answered in TLS, says what it is: the port does
not speak HTTP (``http.not_http``, as for any other protocol, mismatch_rules.py), and
what is meant instead: wss:// or https://.
"""

from __future__ import annotations

from collections.abc import Sequence

from probes.core.model import Finding, NextStep, Severity
from probes.diagnosis.evidence import Evidence, q
from probes.proto.identify import IdentifyData

SECURE = {"ws": "wss", "http": "https"}


def tls_answer(ev: Evidence) -> str:
    """What the port answered a TLS ClientHello with, when it speaks TLS ("" if not)."""
    found = ev.data("identify", IdentifyData)
    answered = found.answered if found is not None else None
    if answered is None or not answered.protocol.startswith("TLS"):
        return ""
    return answered.reply or "a TLS record"


def use_tls(ev: Evidence, lines: Sequence[str]) -> Finding | None:
    """The finding for a plaintext URL to a TLS port, or None when that is not the case."""
    plain = ev.target.scheme
    answer = tls_answer(ev)
    if plain not in SECURE or not answer:
        return None
    secure = SECURE[plain]
    url = f"{secure}://" + ev.target.input.split("://", 1)[-1]
    return Finding(
        "http.not_http",
        Severity.ERROR,
        f"{ev.target.host_port} speaks TLS: it drops the plaintext {plain}:// request; "
        f"use {secure}://",
        (*lines, f"a TLS ClientHello to the same port is answered in TLS ({answer})"),
        (
            NextStep(f"Use {secure}:// in the client's URL (the port expects TLS)"),
            NextStep("Check the TLS endpoint", f"netmedic check {q(url)}"),
        ),
    )
