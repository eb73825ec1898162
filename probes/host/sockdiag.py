"""Every TCP/UDP socket of this network namespace, the way ``ss`` reads them.

The fast path is netlink ``sock_diag`` (``INET_DIAG``): one dump per address
family and protocol, no text to parse, and for a listening socket the current
accept-queue length (``rqueue``) *and* its backlog (``wqueue``), which
``/proc/net/tcp`` does not give.  When netlink is unavailable (a sandbox that
forbids ``AF_NETLINK``) the ``/proc/net/{tcp,tcp6,udp,udp6}`` tables are read
instead and listener backlogs are unknown (``-1``).

Sockets come back as plain tuples (see the ``S_*`` indexes): a busy server has
tens of thousands of them and they are aggregated right away, never kept as
objects or shown one by one.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import struct
from collections.abc import Iterator

# Tuple layout of one socket: (proto, family, state, laddr, lport, raddr, rport,
# rqueue, wqueue, uid, inode, v6only).  proto is "tcp" or "udp"; family 4 or 6.
Sock = tuple[str, int, int, str, int, str, int, int, int, int, int, bool]
S_PROTO, S_FAMILY, S_STATE, S_LADDR, S_LPORT, S_RADDR, S_RPORT = range(7)
S_RQUEUE, S_WQUEUE, S_UID, S_INODE, S_V6ONLY = range(7, 12)

ESTABLISHED, SYN_SENT, SYN_RECV, FIN_WAIT1, FIN_WAIT2, TIME_WAIT = 1, 2, 3, 4, 5, 6
CLOSE, CLOSE_WAIT, LAST_ACK, LISTEN, CLOSING, NEW_SYN_RECV = 7, 8, 9, 10, 11, 12
STATE_NAMES = {
    ESTABLISHED: "ESTABLISHED",
    SYN_SENT: "SYN_SENT",
    SYN_RECV: "SYN_RECV",
    FIN_WAIT1: "FIN_WAIT1",
    FIN_WAIT2: "FIN_WAIT2",
    TIME_WAIT: "TIME_WAIT",
    CLOSE: "CLOSE",
    CLOSE_WAIT: "CLOSE_WAIT",
    LAST_ACK: "LAST_ACK",
    LISTEN: "LISTEN",
    CLOSING: "CLOSING",
    NEW_SYN_RECV: "SYN_RECV",
}

NETLINK_SOCK_DIAG = 4
SOCK_DIAG_BY_FAMILY = 20
NLM_F_REQUEST, NLM_F_DUMP = 0x1, 0x300
NLMSG_ERROR, NLMSG_DONE = 2, 3
INET_DIAG_SKV6ONLY = 11
ALL_STATES = 0xFFFFFFFF & ~(1 << 7)  # TCP: everything but CLOSE (not a real socket)
UDP_STATES = (1 << CLOSE) | (1 << ESTABLISHED)

_NLMSGHDR = struct.Struct("=IHHII")
_MSG = struct.Struct("=BBBBHH16s16sI8xIIIII")  # inet_diag_msg after the header
_MSG_SIZE = 72
_RTATTR = struct.Struct("=HH")


class DiagUnavailable(OSError):
    """netlink sock_diag cannot be used here (the caller falls back to /proc)."""


def collect(tcp: bool = True, udp: bool = True) -> tuple[list[Sock], str]:
    """Every socket, and which source was used: ``"netlink"`` or ``"proc"``."""
    try:
        return list(_netlink_all(tcp, udp)), "netlink"
    except DiagUnavailable:
        return list(_proc_all(tcp, udp)), "proc"


# -- netlink ---------------------------------------------------------------------


def _netlink_all(tcp: bool, udp: bool) -> Iterator[Sock]:
    jobs: list[tuple[str, int, int]] = []
    for family in (int(socket.AF_INET), int(socket.AF_INET6)):
        if tcp:
            jobs.append(("tcp", family, ALL_STATES))
        if udp:
            jobs.append(("udp", family, UDP_STATES))
    try:
        nl = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_SOCK_DIAG)
    except OSError as exc:
        raise DiagUnavailable(exc.errno, f"netlink sock_diag: {exc.strerror}") from exc
    with nl:
        try:
            nl.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        except OSError:
            pass
        results: list[Sock] = []
        for seq, (proto, family, states) in enumerate(jobs, start=1):
            results.extend(_dump(nl, seq, proto, family, states))
    return iter(results)


def _dump(nl: socket.socket, seq: int, proto: str, family: int, states: int) -> list[Sock]:
    protocol = socket.IPPROTO_TCP if proto == "tcp" else socket.IPPROTO_UDP
    body = struct.pack("=BBBxI", family, protocol, 0, states) + bytes(48)
    header = _NLMSGHDR.pack(
        _NLMSGHDR.size + len(body), SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST | NLM_F_DUMP, seq, 0
    )
    try:
        nl.sendto(header + body, (0, 0))
    except OSError as exc:
        raise DiagUnavailable(exc.errno, f"netlink sock_diag: {exc.strerror}") from exc
    version = 6 if family == socket.AF_INET6 else 4
    out: list[Sock] = []
    append = out.append
    names: dict[bytes, str] = {}
    unpack_msg = _MSG.unpack_from
    unpack_hdr = _NLMSGHDR.unpack_from
    buf = bytearray(1 << 18)
    view = memoryview(buf)
    while True:
        try:
            size = nl.recv_into(view)
        except OSError as exc:
            raise DiagUnavailable(exc.errno, f"netlink sock_diag: {exc.strerror}") from exc
        offset = 0
        while offset + 16 <= size:
            length, kind, _flags, _seq, _pid = unpack_hdr(buf, offset)
            if length < 16:
                return out
            if kind == NLMSG_DONE:
                return out
            if kind == NLMSG_ERROR:
                code = -struct.unpack_from("=i", buf, offset + 16)[0]
                if code:
                    raise DiagUnavailable(code, f"netlink sock_diag: {os.strerror(code)}")
                return out
            if kind == SOCK_DIAG_BY_FAMILY:
                (
                    _fam,
                    state,
                    _timer,
                    _retrans,
                    sport,
                    dport,
                    src,
                    dst,
                    _ifindex,
                    _expires,
                    rqueue,
                    wqueue,
                    uid,
                    inode,
                ) = unpack_msg(buf, offset + 16)
                laddr = names.get(src)
                if laddr is None:
                    laddr = names[src] = _addr(version, src)
                raddr = names.get(dst)
                if raddr is None:
                    raddr = names[dst] = _addr(version, dst)
                v6only = False
                if state == LISTEN and version == 6:
                    v6only = _v6only(buf, offset + 16 + _MSG_SIZE, offset + length)
                if state == NEW_SYN_RECV:
                    state = SYN_RECV
                append(
                    (
                        proto,
                        4 if "." in laddr and ":" not in laddr else version,
                        state,
                        laddr,
                        ((sport & 0xFF) << 8) | (sport >> 8),
                        raddr,
                        ((dport & 0xFF) << 8) | (dport >> 8),
                        rqueue,
                        wqueue,
                        uid,
                        inode,
                        v6only,
                    )
                )
            offset += (length + 3) & ~3


def _v6only(buf: bytearray, start: int, end: int) -> bool:
    while start + 4 <= end:
        length, kind = _RTATTR.unpack_from(buf, start)
        if length < 4:
            return False
        if kind == INET_DIAG_SKV6ONLY:
            return bool(buf[start + 4])
        start += (length + 3) & ~3
    return False


def _addr(version: int, raw: bytes) -> str:
    """Text form; IPv4-mapped IPv6 addresses become plain IPv4."""
    if version == 4:
        return socket.inet_ntop(socket.AF_INET, raw[:4])
    if raw[:12] == b"\0" * 10 + b"\xff\xff":
        return socket.inet_ntop(socket.AF_INET, raw[12:16])
    return socket.inet_ntop(socket.AF_INET6, raw)


# -- /proc fallback -------------------------------------------------------------


def _proc_all(tcp: bool, udp: bool, root: str = "/proc/net") -> Iterator[Sock]:
    for proto, enabled in (("tcp", tcp), ("udp", udp)):
        if not enabled:
            continue
        for version, suffix in ((4, ""), (6, "6")):
            try:
                with open(f"{root}/{proto}{suffix}", encoding="ascii") as fh:
                    text = fh.read()
            except OSError:
                continue
            yield from parse_proc_net(text, proto, version)


def parse_proc_net(text: str, proto: str, version: int) -> Iterator[Sock]:
    """Sockets from one ``/proc/net/{tcp,tcp6,udp,udp6}`` table."""
    names: dict[str, str] = {}
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 10:
            continue
        local, remote, st, queues = fields[1], fields[2], fields[3], fields[4]
        laddr_hex, _, lport = local.partition(":")
        raddr_hex, _, rport = remote.partition(":")
        tx, _, rx = queues.partition(":")
        state = int(st, 16)
        if proto == "udp" and state not in (CLOSE, ESTABLISHED):
            continue
        if proto == "tcp" and state == CLOSE:
            continue
        laddr = names.get(laddr_hex) or names.setdefault(laddr_hex, _proc_addr(laddr_hex))
        raddr = names.get(raddr_hex) or names.setdefault(raddr_hex, _proc_addr(raddr_hex))
        yield (
            proto,
            4 if ":" not in laddr else version,
            SYN_RECV if state == NEW_SYN_RECV else state,
            laddr,
            int(lport, 16),
            raddr,
            int(rport, 16),
            int(rx, 16),
            -1 if state == LISTEN else int(tx, 16),  # the backlog is not in /proc
            int(fields[7]),
            int(fields[9]),
            False,
        )


def _proc_addr(text: str) -> str:
    raw = bytes.fromhex(text)
    # /proc prints each 32-bit word in host byte order.
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    if len(words) == 4:
        return socket.inet_ntop(socket.AF_INET, words)
    addr = ipaddress.IPv6Address(words)
    if addr.ipv4_mapped is not None:
        return str(addr.ipv4_mapped)
    return socket.inet_ntop(socket.AF_INET6, words)
