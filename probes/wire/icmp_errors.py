"""Read ICMP errors the kernel queued on a socket (IP_RECVERR / IPV6_RECVERR).

When a router or firewall answers a SYN with ICMP unreachable, connect() only
reports an errno.  With IP_RECVERR set, the kernel also queues the ICMP type,
code and the address of the router that sent it, which is how we can say
"10.0.1.1 answered administratively prohibited" without raw sockets.
"""

from __future__ import annotations

import errno
import ipaddress
import socket
import struct
from dataclasses import dataclass

from probes.wire.stamps import ANCILLARY_SPACE, stamp_of

SOL_IP = getattr(socket, "SOL_IP", 0)
IP_RECVERR = getattr(socket, "IP_RECVERR", 11)
SOL_IPV6 = getattr(socket, "SOL_IPV6", 41)
IPV6_RECVERR = getattr(socket, "IPV6_RECVERR", 25)
MSG_ERRQUEUE = getattr(socket, "MSG_ERRQUEUE", 0x2000)

SO_EE_ORIGIN_LOCAL = 1
SO_EE_ORIGIN_ICMP = 2
SO_EE_ORIGIN_ICMP6 = 3

_EXT_ERR = struct.Struct("=IBBBBII")  # struct sock_extended_err

ICMP4_UNREACH = {
    0: "net unreachable",
    1: "host unreachable",
    2: "protocol unreachable",
    3: "port unreachable",
    4: "fragmentation needed",
    5: "source route failed",
    6: "destination network unknown",
    7: "destination host unknown",
    9: "network administratively prohibited",
    10: "host administratively prohibited",
    11: "network unreachable for TOS",
    12: "host unreachable for TOS",
    13: "communication administratively prohibited",
    14: "host precedence violation",
    15: "precedence cutoff",
}
ICMP6_UNREACH = {
    0: "no route to destination",
    1: "communication administratively prohibited",
    2: "beyond scope of source address",
    3: "address unreachable",
    4: "port unreachable",
    5: "source address failed ingress/egress policy",
    6: "reject route to destination",
}
ADMIN_PROHIBITED = {(4, 3, 9), (4, 3, 10), (4, 3, 13), (6, 1, 1), (6, 1, 5)}
NET_UNREACHABLE = {(4, 3, 0), (4, 3, 6), (4, 3, 11), (6, 1, 0), (6, 1, 6)}


@dataclass(frozen=True, slots=True)
class IcmpReport:
    """An ICMP error about our packet, and who sent it."""

    version: int  # 4 or 6
    type: int
    code: int
    name: str
    sender: str  # the router or host that sent the ICMP message
    errno_name: str = ""  # what the kernel made of it (EHOSTUNREACH...)

    @property
    def admin_prohibited(self) -> bool:
        return (self.version, self.type, self.code) in ADMIN_PROHIBITED

    @property
    def net_unreachable(self) -> bool:
        return (self.version, self.type, self.code) in NET_UNREACHABLE


def enable_recverr(sock: socket.socket) -> None:
    """Ask the kernel to queue ICMP errors for *sock* (best effort)."""
    try:
        if sock.family == socket.AF_INET6:
            sock.setsockopt(SOL_IPV6, IPV6_RECVERR, 1)
        else:
            sock.setsockopt(SOL_IP, IP_RECVERR, 1)
    except OSError:
        pass


def read_icmp_error(sock: socket.socket) -> IcmpReport | None:
    """The first ICMP error queued on *sock*, or None (never blocks)."""
    for _ in range(4):
        try:
            _data, ancdata, _flags, _addr = sock.recvmsg(
                512, 1024, MSG_ERRQUEUE | socket.MSG_DONTWAIT
            )
        except (BlockingIOError, InterruptedError):
            return None
        except OSError:
            return None
        for level, kind, payload in ancdata:
            if (level, kind) in ((SOL_IP, IP_RECVERR), (SOL_IPV6, IPV6_RECVERR)):
                report = parse_extended_err(payload)
                if report is not None:
                    return report
    return None


def parse_extended_err(payload: bytes) -> IcmpReport | None:
    if len(payload) < _EXT_ERR.size:
        return None
    err, origin, icmp_type, code, _pad, _info, _data = _EXT_ERR.unpack_from(payload)
    if origin not in (SO_EE_ORIGIN_ICMP, SO_EE_ORIGIN_ICMP6):
        return None
    version = 4 if origin == SO_EE_ORIGIN_ICMP else 6
    sender = _offender(payload[_EXT_ERR.size :])
    if version == 4:
        name = ICMP4_UNREACH.get(code, f"code {code}") if icmp_type == 3 else f"type {icmp_type}"
    else:
        name = ICMP6_UNREACH.get(code, f"code {code}") if icmp_type == 1 else f"type {icmp_type}"
    return IcmpReport(version, icmp_type, code, name, sender, errno.errorcode.get(err, ""))


def _offender(raw: bytes) -> str:
    """The sockaddr after sock_extended_err (SO_EE_OFFENDER)."""
    if len(raw) < 2:
        return ""
    family = struct.unpack_from("=H", raw)[0]
    if family == socket.AF_INET and len(raw) >= 8:
        return str(ipaddress.IPv4Address(raw[4:8]))
    if family == socket.AF_INET6 and len(raw) >= 24:
        return str(ipaddress.IPv6Address(raw[8:24]))
    return ""


@dataclass(frozen=True, slots=True)
class QueuedError:
    """One entry of a socket's error queue, with the payload of the probe it is about."""

    errno: int
    origin: int
    type: int
    code: int
    info: int  # the next-hop MTU for "fragmentation needed" / "packet too big"
    sender: str
    payload: bytes  # the start of the datagram we sent (how the probe is matched)
    stamp: float | None = None  # the kernel's receive timestamp (SO_TIMESTAMPING), realtime

    @property
    def from_icmp(self) -> bool:
        return self.origin in (SO_EE_ORIGIN_ICMP, SO_EE_ORIGIN_ICMP6)


def drain_error_queue(sock: socket.socket, limit: int = 64) -> list[QueuedError]:
    """Every queued ICMP/local error on *sock* (never blocks)."""
    out: list[QueuedError] = []
    for _ in range(limit):
        try:
            data, ancdata, _flags, _addr = sock.recvmsg(
                2048, ANCILLARY_SPACE, MSG_ERRQUEUE | socket.MSG_DONTWAIT
            )
        except (BlockingIOError, InterruptedError):
            break
        except OSError:
            break
        stamp = stamp_of(ancdata)
        for level, kind, payload in ancdata:
            if (level, kind) not in ((SOL_IP, IP_RECVERR), (SOL_IPV6, IPV6_RECVERR)):
                continue
            if len(payload) < _EXT_ERR.size:
                continue
            err, origin, icmp_type, code, _pad, info, _data = _EXT_ERR.unpack_from(payload)
            sender = _offender(payload[_EXT_ERR.size :])
            out.append(QueuedError(err, origin, icmp_type, code, info, sender, bytes(data), stamp))
    return out
