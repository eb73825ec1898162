"""Read what comes back from the path: ICMP/ICMPv6 replies and errors, TCP answers.

This is the receive side of the packet engine.  Every function is total: it
takes untrusted bytes from the network and returns a :class:`Parsed` or None,
never raises, and never reads past the buffer.  Matching is by what *we* put
in the probe and the router quotes back: the ICMP echo id/seq, the UDP
checksum (Paris traceroute keeps the ports fixed and encodes the probe number
in the checksum) or the TCP sequence number.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass

# What a packet means for the probe that caused it.
REPLY = "reply"  # the destination answered (echo reply, SYN-ACK/RST, port unreachable)
TIME_EXCEEDED = "time_exceeded"  # a router on the way: TTL ran out
UNREACHABLE = "unreachable"  # a router or the host said unreachable
FRAG_NEEDED = "frag_needed"  # a router says the packet is too big (PMTUD)
TIMEOUT = "timeout"  # nothing came back in time
ERROR = "error"  # this host could not send it

ICMP, UDP, TCP = "icmp", "udp", "tcp"
_PROTO = {1: ICMP, 17: UDP, 6: TCP, 58: ICMP}


@dataclass(frozen=True, slots=True)
class Parsed:
    kind: str  # REPLY | TIME_EXCEEDED | UNREACHABLE | FRAG_NEEDED
    proto: str  # protocol of *our* probe: icmp | udp | tcp
    key: int  # the 16-bit probe number we encoded
    ident: int  # echo id, or our source port for UDP/TCP
    sender: str  # who sent this packet
    dst: str  # where our probe was going (from the quote; sender for replies)
    icmp_type: int = -1
    icmp_code: int = -1
    mtu: int = 0  # next-hop MTU from "fragmentation needed" / "packet too big"
    extra: int = 0  # TCP: the high 16 bits of the sequence number (a per-engine tag)


def _u16(b: bytes, off: int) -> int:
    return int(struct.unpack_from("!H", b, off)[0])


def _u32(b: bytes, off: int) -> int:
    return int(struct.unpack_from("!I", b, off)[0])


def parse_icmp4(packet: bytes, sender: str) -> Parsed | None:
    """An IPv4 datagram (header included) as a raw ICMP socket returns it."""
    try:
        if len(packet) < 20 or packet[0] >> 4 != 4:
            return None
        ihl = (packet[0] & 0x0F) * 4
        if ihl < 20 or len(packet) < ihl + 8:
            return None
        return parse_icmp4_message(packet[ihl:], sender)
    except (struct.error, ValueError, IndexError):
        return None


def parse_icmp4_message(msg: bytes, sender: str) -> Parsed | None:
    """An ICMPv4 message without the IP header."""
    try:
        if len(msg) < 8:
            return None
        icmp_type, code = msg[0], msg[1]
        if icmp_type == 0:  # echo reply
            return Parsed(REPLY, ICMP, _u16(msg, 6), _u16(msg, 4), sender, sender, 0, code)
        if icmp_type not in (3, 11):
            return None
        inner = msg[8:]
        if len(inner) < 20 or inner[0] >> 4 != 4:
            return None
        ihl = (inner[0] & 0x0F) * 4
        if ihl < 20 or len(inner) < ihl + 8:
            return None
        proto = _PROTO.get(inner[9])
        if proto is None:
            return None
        dst = str(ipaddress.IPv4Address(inner[16:20]))
        l4 = inner[ihl : ihl + 8]
        kind = TIME_EXCEEDED if icmp_type == 11 else UNREACHABLE
        mtu = 0
        if icmp_type == 3 and code == 4:
            kind, mtu = FRAG_NEEDED, _u16(msg, 6)
        elif icmp_type == 3 and code == 3 and proto != ICMP and sender == dst:
            kind = REPLY  # port unreachable from the destination itself: it answered
        return _quoted(kind, proto, l4, sender, dst, icmp_type, code, mtu)
    except (struct.error, ValueError, IndexError):
        return None


def parse_icmp6(msg: bytes, sender: str) -> Parsed | None:
    """An ICMPv6 message (raw ICMPv6 sockets never include the IPv6 header)."""
    try:
        if len(msg) < 8:
            return None
        icmp_type, code = msg[0], msg[1]
        if icmp_type == 129:  # echo reply
            return Parsed(REPLY, ICMP, _u16(msg, 6), _u16(msg, 4), sender, sender, 129, code)
        if icmp_type not in (1, 2, 3):
            return None
        inner = msg[8:]
        if len(inner) < 48 or inner[0] >> 4 != 6:
            return None
        proto = _PROTO.get(inner[6])
        if proto is None:
            return None
        dst = str(ipaddress.IPv6Address(inner[24:40]))
        l4 = inner[40:48]
        kind = {1: UNREACHABLE, 2: FRAG_NEEDED, 3: TIME_EXCEEDED}[icmp_type]
        mtu = _u32(msg, 4) if icmp_type == 2 else 0
        if icmp_type == 1 and code == 4 and proto != ICMP and _same6(sender, dst):
            kind = REPLY
        return _quoted(kind, proto, l4, sender, dst, icmp_type, code, mtu)
    except (struct.error, ValueError, IndexError):
        return None


def _same6(a: str, b: str) -> bool:
    try:
        return ipaddress.ip_address(a.split("%", 1)[0]) == ipaddress.ip_address(b)
    except ValueError:
        return False


def _quoted(
    kind: str, proto: str, l4: bytes, sender: str, dst: str, icmp_type: int, code: int, mtu: int
) -> Parsed | None:
    """Recover the probe number from the first 8 quoted bytes of our probe."""
    if proto == ICMP:
        if l4[0] not in (8, 128):  # only our echo requests
            return None
        return Parsed(kind, ICMP, _u16(l4, 6), _u16(l4, 4), sender, dst, icmp_type, code, mtu)
    if proto == UDP:
        return Parsed(kind, UDP, _u16(l4, 6), _u16(l4, 0), sender, dst, icmp_type, code, mtu)
    seq = _u32(l4, 4)
    return Parsed(
        kind, TCP, seq & 0xFFFF, _u16(l4, 0), sender, dst, icmp_type, code, mtu, seq >> 16
    )


def parse_tcp(segment: bytes, sender: str) -> Parsed | None:
    """A TCP segment (no IP header) answering one of our SYNs: SYN-ACK or RST."""
    try:
        if len(segment) < 20:
            return None
        flags = segment[13]
        if not flags & 0x04 and (flags & 0x12) != 0x12:  # neither RST nor SYN-ACK
            return None
        ack = (_u32(segment, 8) - 1) & 0xFFFFFFFF
        return Parsed(
            REPLY, TCP, ack & 0xFFFF, _u16(segment, 2), sender, sender, -1, flags, 0, ack >> 16
        )
    except (struct.error, ValueError, IndexError):
        return None


def parse_tcp4(packet: bytes, sender: str) -> Parsed | None:
    try:
        if len(packet) < 20 or packet[0] >> 4 != 4:
            return None
        return parse_tcp(packet[(packet[0] & 0x0F) * 4 :], sender)
    except (ValueError, IndexError):
        return None


def ones_add(a: int, b: int) -> int:
    s = a + b
    return (s & 0xFFFF) + (s >> 16)


def checksum_fixer(current: int, wanted: int) -> int:
    """The 16-bit word to add to a zeroed payload word so the checksum becomes *wanted*.

    With checksum C over data whose fix-up word is 0, adding W = ~wanted +' C
    makes the checksum ~(~C +' W) = wanted (ones' complement arithmetic).
    """
    return ones_add(~wanted & 0xFFFF, current) & 0xFFFF
