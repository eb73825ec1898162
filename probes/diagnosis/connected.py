"""Connections that completed in this run: the strongest evidence that a host is up.

A completed TCP handshake (the TCP probe's connect, a sampled connection, a TLS
handshake, an HTTP exchange that got past its connect) proves that the address
answers the connection.  Rules read it to keep weaker evidence in its place: ICMP
silence or an ICMP error about ping/trace packets, and a connect that "timed out"
in another probe of the same run (see :mod:`probes.diagnosis.overruled`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from probes.core.model import ProbeResult, Status
from probes.net.tcp import OPEN, TcpData
from probes.proto.http import HttpData
from probes.proto.sampler import SamplerData
from probes.proto.tls import TlsData

ANY_ADDRESS = ""  # the probe connected to the target without saying to which address


@dataclass(frozen=True, slots=True)
class Connected:
    address: str  # ANY_ADDRESS when the probe does not record it
    port: int
    probe: str
    how: str  # one line of evidence, for a finding


def completed_connects(results: Mapping[str, ProbeResult], port: int) -> list[Connected]:
    """Every completed connection to *port* this run's results record, per probe."""
    found: list[Connected] = []
    for name, result in results.items():
        if not result.final or result.status is Status.ERROR:
            continue
        found.extend(_connects(name, result.data, port))
    return found


def _connects(name: str, data: object, port: int) -> Iterator[Connected]:
    if isinstance(data, TcpData) and data.port == port:
        for a in data.attempts:
            if a.state == OPEN:
                where = f"[{a.address}]:{a.port}" if a.family == 6 else f"{a.address}:{a.port}"
                yield Connected(
                    a.address,
                    port,
                    name,
                    f"a TCP connection to {where} succeeded in {a.connect_text}",
                )
    elif isinstance(data, TlsData) and data.port == port and (data.state == "ok" or data.chain):
        yield Connected(
            data.address,
            port,
            name,
            f"a TLS handshake with {data.address} completed (it sent its certificate)",
        )
    elif isinstance(data, SamplerData) and data.port == port:
        done = [a for a in data.recent if a.connect_s is not None]
        if done:
            yield Connected(
                data.address,
                port,
                name,
                f"{len(done)} of {len(data.recent)} sampled connections to {data.address} "
                "completed their handshake",
            )
    elif isinstance(data, HttpData) and not data.proxy and _got_past_connect(data):
        yield Connected(ANY_ADDRESS, port, name, f"GET {data.url} connected ({_how_far(data)})")


def _got_past_connect(data: HttpData) -> bool:
    return bool(data.hops) or (data.state != "ok" and data.phase not in ("", "connect"))


def _how_far(data: HttpData) -> str:
    if data.hops:
        return f"answered {data.hops[-1].status}"
    return {"tls": "the TLS handshake started"}.get(data.phase, "the request was sent")


def same_address(a: str, b: str) -> bool:
    """Equal addresses (any textual form); the unknown address matches every address."""
    import ipaddress

    if ANY_ADDRESS in (a, b):
        return True
    try:
        return ipaddress.ip_address(a.split("%", 1)[0]) == ipaddress.ip_address(b.split("%", 1)[0])
    except ValueError:
        return a == b
