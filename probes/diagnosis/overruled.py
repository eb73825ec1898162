"""Stronger evidence wins: a completed connect rules out "does not answer the connection".

Before the rules read the evidence, a result that says a connection to an address got
no answer (the TCP probe's SYN timed out, the HTTP client's connect timed out) is
checked against every connection another probe of the same run completed to that
address (:mod:`probes.diagnosis.connected`).  When one did, the silence was this
client's (it could not run in time, its budget was spent elsewhere), not the
server's: the result becomes incomplete (``CONTRADICTED``, with both sides in its
explanation), so no rule reads ``tcp.filtered`` from it and the verdict cannot be
``ok`` on missing evidence.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from probes.core.model import ProbeError, ProbeResult, Status
from probes.diagnosis.connected import ANY_ADDRESS, Connected, completed_connects, same_address
from probes.net.tcp import FILTERED, TcpData
from probes.proto.http import TIMEOUT, HttpData

CONTRADICTED = "CONTRADICTED"  # errno_name of a result stronger evidence overruled


def overrule(results: Mapping[str, ProbeResult], port: int) -> dict[str, ProbeResult]:
    """*results*, each claim of an unanswered connect that another probe's completed
    connect contradicts turned into an incomplete result."""
    out = dict(results)
    connected = completed_connects(results, port)
    if not connected:
        return out
    for name, result in results.items():
        if not result.final or result.status is not Status.FAILED:
            continue
        for claim in _unanswered(result.data, port):
            proof = next((c for c in connected if c.probe != name and _refutes(c, claim)), None)
            if proof is not None:
                out[name] = _overruled(result, claim, proof)
                break
    return out


@dataclass(frozen=True, slots=True)
class _Claim:
    address: str  # ANY_ADDRESS: the target as a whole
    sole: bool = False  # the target's only address: a connect to "the target" went there


def _unanswered(data: object, port: int) -> Iterator[_Claim]:
    """Where a result says a connect got no answer."""
    if isinstance(data, TcpData) and data.port == port:
        sole = len({a.address for a in data.attempts}) == 1
        yield from (_Claim(a.address, sole) for a in data.attempts if a.state == FILTERED)
    elif isinstance(data, HttpData) and _connect_timed_out(data):
        yield _Claim(ANY_ADDRESS)


def _connect_timed_out(data: HttpData) -> bool:
    return not data.proxy and data.state == TIMEOUT and data.phase == "connect" and not data.hops


def _refutes(connect: Connected, claim: _Claim) -> bool:
    """A connect to an address refutes silence claimed for that address; any connect
    refutes silence claimed for the target as a whole, and a connect to the target
    refutes silence claimed for its only address."""
    if claim.address == ANY_ADDRESS or (connect.address == ANY_ADDRESS and claim.sole):
        return True
    return connect.address != ANY_ADDRESS and same_address(connect.address, claim.address)


def _overruled(result: ProbeResult, claim: _Claim, proof: Connected) -> ProbeResult:
    where = claim.address or "the target"
    why = (
        f"its connect to {where} got no answer in time, but {proof.how} ({proof.probe}) in "
        "the same run: the answer came, this process did not read it in time"
    )
    return dataclasses.replace(
        result,
        status=Status.ERROR,
        summary=f"incomplete: {why} ({result.summary})",
        error=ProbeError(CONTRADICTED, why, elapsed_s=result.duration_s),
    )
