"""Whose connections these are: the client end of each connection on the target's port.

A server's CLOSE_WAIT socket means its peer hung up and the server has not closed
yet.  One look cannot tell a leak from a server still thinking about a request
whose client gave up — and netmedic's own probes are such clients.  So the local
look records, for the connection states the rules judge, the *client end*
(address, port) of each connection on the target's port: the remote end of a
socket this host serves, the local end of one it opened.  The diagnosis matches
them against the source ports this run's own probes used
(:mod:`probes.diagnosis.own_connections`), and a later look carries over how long
each one has already been seen (:func:`carry_over`), so a socket that stays is
told from one that comes and goes.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, replace

# Ends recorded per state: a pile-up beyond this is one whatever its share of ours.
ENDS_SAMPLE = 512


@dataclass(frozen=True, slots=True)
class ConnEnd:
    """The client end of one connection on the target's port."""

    address: str  # canonical (an IPv4-mapped IPv6 address as IPv4)
    port: int
    held_s: float = 0.0  # how long earlier looks have seen it in this state (0: new now)

    @property
    def key(self) -> tuple[str, int]:
        return (self.address, self.port)


def canonical(address: str) -> str:
    """*address* as the probes' own sources write it: ``::ffff:a.b.c.d`` as ``a.b.c.d``."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ip)


def parse_endpoint(text: str) -> tuple[str, int] | None:
    """``127.0.0.1:5000`` / ``[::1]:5000`` → (address, port); None when not one."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        return None
    return canonical(host.strip("[]")), int(port)


def carry_over(
    previous: Iterable[ConnEnd], current: Iterable[ConnEnd], since_s: float
) -> tuple[ConnEnd, ...]:
    """*current* with the time each end was already held at the previous look, *since_s*
    seconds ago, added: an end the previous look did not have starts at 0."""
    before = {e.key: e.held_s for e in previous}
    return tuple(
        replace(e, held_s=before[e.key] + max(0.0, since_s)) if e.key in before else e
        for e in current
    )
