"""A saved service whose health path passes while its key is refused where it counts."""

from __future__ import annotations

from collections.abc import Iterator

from probes.core.model import Finding, NextStep, Severity
from probes.core.profiles import KINDS
from probes.diagnosis.evidence import Evidence, q
from probes.proto.http import OK, HttpData


def key_refused(ev: Evidence) -> Iterator[Finding]:
    data = ev.data("http", HttpData)
    authed = data.authed if data is not None else None
    if data is None or data.state != OK or authed is None or authed.status not in (401, 403):
        return
    fid = "http.unauthorized" if authed.status == 401 else "http.forbidden"
    sent = ", ".join(data.sent_headers) or "the saved headers"
    kind = KINDS.get(data.service_kind)
    convention = kind.auth if kind is not None else None
    lines = [
        f"GET {data.url} → {data.status} {data.reason}: the health path needs no key",
        f"GET {authed.url} with {sent} (values hidden) → {authed.status} {authed.reason}",
    ]
    if authed.said:
        lines.append(f"the server says: {authed.said}")
    steps = [NextStep("Check the key the client sends: the service refuses this one")]
    if convention is not None:
        header = f"{convention.header}: " + (f"{convention.scheme} " if convention.scheme else "")
        steps.append(
            NextStep(
                f"Ask the same path by hand with the key from ${convention.variable}",
                f'curl -s -o /dev/null -w "%{{http_code}}\\n" -H "{header}${convention.variable}" '
                f"{q(authed.url)}",
            )
        )
    yield Finding(
        fid,
        Severity.ERROR,
        f"{ev.target.host_port} is up ({data.status} on its health path), but refuses the "
        f"configured key: {authed.url} answers {authed.status} {authed.reason}",
        tuple(lines),
        tuple(steps),
    )


RULES = (key_refused,)
