"""The packet engine behind ping, traceroute and path MTU.

Every path probe talks to the network through one small interface, a
:class:`Prober`: send one probe (to an address, with a TTL, a size and maybe
DF) and get back one :class:`Reply` (who answered, how, after how long).
Several implementations sit behind it, chosen by what this process may do:

* :class:`RawEngine` (root or CAP_NET_RAW): packets crafted with scapy, sent
  on raw sockets, and *one* receive path per socket that matches every reply
  to the probe that caused it (ICMP echo id/seq; the quoted headers of
  time-exceeded and unreachable messages; the UDP checksum or TCP sequence
  number carrying the probe number).  Ping, traceroute and MTU share one
  engine in a run without stealing each other's replies.  Ports stay fixed
  for a prober (Paris traceroute), so load-balanced paths do not flap.
* :class:`DgramIcmpProber`: ICMP datagram sockets ("ping sockets"), allowed
  unprivileged where ``net.ipv4.ping_group_range`` includes our group.
* :class:`UdpRecverrProber`: UDP with IP_RECVERR, the way tracepath works: the
  kernel queues the ICMP errors with the router's address and our payload.
* :class:`TcpConnectProber`: a TCP connect to the target's port (RST counts as
  an answer): the ping of last resort; no TTL.  On an open port each probe is
  a real (immediately closed) connection the service may log.

scapy is imported only when a raw engine starts, on a worker thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import ipaddress
import logging
import random
import socket
import struct
import time
from collections.abc import AsyncGenerator, Callable, Coroutine, Iterable
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Protocol

from probes.core.clocks import KERNEL, WALL
from probes.core.context import ProbeContext, run_in_daemon_thread
from probes.core.live import LiveControl
from probes.core.model import ProbeResult
from probes.core.privileges import has_raw_socket
from probes.path.packets import (
    ERROR,
    FRAG_NEEDED,
    ICMP,
    REPLY,
    TCP,
    TIME_EXCEEDED,
    TIMEOUT,
    UDP,
    UNREACHABLE,
    Parsed,
    checksum_fixer,
    parse_icmp4,
    parse_icmp6,
    parse_tcp,
    parse_tcp4,
)
from probes.wire.icmp_errors import (
    SO_EE_ORIGIN_ICMP,
    QueuedError,
    drain_error_queue,
    enable_recverr,
    read_icmp_error,
)
from probes.wire.stamps import Sent, enable_rx_stamps, recv_stamped, round_trip, stamping_live
from probes.wire.tcpinfo import kernel_rtt

IP_MTU_DISCOVER, IP_PMTUDISC_DONT, IP_PMTUDISC_PROBE = 10, 0, 3
IPV6_MTU_DISCOVER, IPV6_DONTFRAG = 23, 62
IP_MTU, IPV6_MTU = 14, 24
UDP_TRACE_PORT = 33434
FULL_MODE_HINT = (
    "run netmedic as root, or give the interpreter CAP_NET_RAW "
    "(sudo setcap cap_net_raw+ep <path to python3>)"
)
PING_SOCKET_HINT = (
    "allow ICMP datagram sockets: sudo sysctl -w net.ipv4.ping_group_range='0 2147483647'"
)


@dataclass(frozen=True, slots=True)
class Reply:
    """What came back for one probe."""

    kind: str  # reply | time_exceeded | unreachable | frag_needed | timeout | error
    responder: str = ""
    rtt_s: float = 0.0
    icmp_type: int = -1
    icmp_code: int = -1
    mtu: int = 0
    detail: str = ""
    # Which clock rtt_s came from (probes.core.clocks): the kernel's receive stamp
    # (SO_TIMESTAMPING) or TCP_INFO, else our monotonic clock when the loop read it.
    clock: str = WALL


class Prober(Protocol):
    mode: str  # raw-icmp | raw-udp | raw-tcp | icmp-dgram | udp-recverr | tcp-connect
    privileged: bool
    supports_ttl: bool

    async def probe(
        self, dst: str, *, ttl: int = 64, size: int = 0, df: bool = False, timeout: float = 1.0
    ) -> Reply: ...

    def close(self) -> None: ...

    def late_unreachable(self, dst: str) -> Reply | None:
        """An ICMP unreachable about a probe to *dst* that came after its timeout."""
        ...


# How long a timed-out probe can still be matched to a late ICMP error: a router
# sends "host unreachable" only once neighbour (ARP/NDP) resolution fails, ~3 s on.
LATE_WINDOW_S = 8.0


class LateErrors:
    """Timed-out probes, and the unreachable errors that arrive for them late."""

    def __init__(self) -> None:
        self._expired: dict[Any, tuple[Sent, str]] = {}  # key -> (sent, dst)
        self.by_dst: dict[str, Reply] = {}

    def expire(self, key: Any, sent: Sent, dst: str) -> None:
        now = time.monotonic()
        if len(self._expired) > 512:
            old = [k for k, (t, _d) in self._expired.items() if now - t.mono > LATE_WINDOW_S]
            for k in old:
                del self._expired[k]
        self._expired[key] = (sent, dst)

    def match(self, key: Any, reply_of: Callable[[Sent, str], Reply | None]) -> None:
        entry = self._expired.pop(key, None)
        if entry is None or time.monotonic() - entry[0].mono > LATE_WINDOW_S:
            return
        reply = reply_of(*entry)
        if reply is not None and reply.kind == UNREACHABLE:
            self.by_dst.setdefault(entry[1], reply)


async def stream_snapshots(
    runner: asyncio.Future[Any],
    changed: asyncio.Event,
    result: Callable[[bool], ProbeResult],
) -> AsyncGenerator[ProbeResult, None]:
    """Yield ``result(False)`` whenever *changed* is set (at most every
    SNAPSHOT_EVERY_S) while *runner* works, then ``result(True)``.  Leaving
    early cancels *runner*; use it under ``contextlib.aclosing``."""
    try:
        while not runner.done():
            await asyncio.wait({runner}, timeout=SNAPSHOT_EVERY_S)
            if changed.is_set() and not runner.done():
                changed.clear()
                yield result(False)
        with contextlib.suppress(asyncio.CancelledError):
            await runner
        yield result(True)
    finally:
        runner.cancel()
        runner.add_done_callback(_retrieve_outcome)


async def paced_rounds(
    launch: Callable[[int], Iterable[Coroutine[Any, Any, None]]],
    interval: float,
    count: int,
    window: float | None,
    live: LiveControl | None = None,
    enough: Callable[[], bool] | None = None,
) -> None:
    """Start round *n*'s probes (``launch(n)``) every *interval* seconds on a fixed
    schedule — a slow round does not push the next one back — until *count*
    rounds (0: no limit), the send *window* is used up or the sample is *enough*
    (a sized sample whose answer is clear); then wait for the replies still
    outstanding.  Cancelling cancels every probe in flight.

    In a live run (*live*) rounds wait while it is paused, the schedule restarts
    from the moment it resumes, and time is *live*'s clock (a seam for tests)."""
    inflight: set[asyncio.Task[None]] = set()
    clock = live.clock if live is not None else None
    now = clock.now if clock is not None else time.monotonic
    started = now()
    resumes = live.resumed_count if live is not None else 0
    n = 0
    try:
        while not (count and n >= count) and not (
            window is not None and n and n * interval > window
        ):
            if enough is not None and enough():
                break
            if live is not None:
                await live.wait_open()
                if live.resumed_count != resumes:  # after a pause: no catch-up burst
                    resumes = live.resumed_count
                    started = now() - n * interval
            for probe in launch(n):
                task = asyncio.create_task(probe)
                inflight.add(task)
                task.add_done_callback(inflight.discard)
            n += 1
            delay = max(0.0, started + n * interval - now())
            if clock is not None:
                await clock.sleep(delay)
            else:
                await asyncio.sleep(delay)
        if inflight:
            await asyncio.gather(*inflight)
    finally:
        for task in inflight:
            task.cancel()


def _retrieve_outcome(future: asyncio.Future[Any]) -> None:
    """Mark the outcome of a cancelled background future as seen (no log noise)."""
    if not future.cancelled():
        future.exception()


def family_of(address: str) -> int:
    return socket.AF_INET6 if ":" in address else socket.AF_INET


def _norm(address: str) -> str:
    try:
        return str(ipaddress.ip_address(address.split("%", 1)[0]))
    except ValueError:
        return address


def _sockaddr(address: str) -> Any:
    family = family_of(address)
    return socket.getaddrinfo(address, 0, family, socket.SOCK_DGRAM, 0, socket.AI_NUMERICHOST)[0][4]


def source_for(address: str) -> str:
    """The local address the kernel would use towards *address* (no packet sent)."""
    family = family_of(address)
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.connect(
            socket.getaddrinfo(address, 9, family, socket.SOCK_DGRAM, 0, socket.AI_NUMERICHOST)[0][
                4
            ]
        )
        return str(sock.getsockname()[0])


def route_mtu(address: str) -> int:
    """The MTU the kernel would use towards *address* (interface or cached PMTU)."""
    family = family_of(address)
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.connect(
            socket.getaddrinfo(address, 9, family, socket.SOCK_DGRAM, 0, socket.AI_NUMERICHOST)[0][
                4
            ]
        )
        if family == socket.AF_INET6:
            return int(sock.getsockopt(socket.IPPROTO_IPV6, IPV6_MTU))
        return int(sock.getsockopt(socket.IPPROTO_IP, IP_MTU))


def _set_ttl_df(sock: socket.socket, ttl: int, df: bool) -> None:
    if sock.family == socket.AF_INET6:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, ttl)
        sock.setsockopt(
            socket.IPPROTO_IPV6, IPV6_MTU_DISCOVER, IP_PMTUDISC_PROBE if df else IP_PMTUDISC_DONT
        )
        sock.setsockopt(socket.IPPROTO_IPV6, IPV6_DONTFRAG, 1 if df else 0)
    else:
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, ttl)
        sock.setsockopt(
            socket.IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_PROBE if df else IP_PMTUDISC_DONT
        )


def _errno_name(exc: OSError) -> str:
    return errno.errorcode.get(exc.errno or 0, type(exc).__name__)


def _send_error(exc: OSError, dst: str) -> Reply:
    name = _errno_name(exc)
    if exc.errno == errno.EMSGSIZE:
        mtu = 0
        with contextlib.suppress(OSError):
            mtu = route_mtu(dst)
        return Reply(ERROR, mtu=mtu, detail=f"{name}: larger than this host's MTU towards {dst}")
    return Reply(ERROR, detail=f"{name}: {exc.strerror or exc}")


# -- the raw engine -----------------------------------------------------------


def load_scapy() -> dict[str, Any]:
    """Import the scapy layers we craft with (slow: call it off the event loop)."""
    for name in ("scapy", "scapy.runtime", "scapy.loading"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    import scapy.layers.inet as inet
    import scapy.layers.inet6 as inet6
    import scapy.packet as packet

    modules: dict[str, ModuleType] = {"inet": inet, "inet6": inet6, "packet": packet}
    return {
        "IP": modules["inet"].IP,
        "ICMP": modules["inet"].ICMP,
        "UDP": modules["inet"].UDP,
        "TCP": modules["inet"].TCP,
        "IPv6": modules["inet6"].IPv6,
        "ICMPv6EchoRequest": modules["inet6"].ICMPv6EchoRequest,
        "Raw": modules["packet"].Raw,
    }


@dataclass
class _Pending:
    future: asyncio.Future[tuple[Parsed, float, float | None]]  # (parsed, loop time, stamp)
    dst: str
    sport: int


_SOCK_PROTO: dict[tuple[int, str], int] = {
    (socket.AF_INET, ICMP): socket.IPPROTO_ICMP,
    (socket.AF_INET6, ICMP): socket.IPPROTO_ICMPV6,
    (socket.AF_INET, UDP): socket.IPPROTO_UDP,
    (socket.AF_INET6, UDP): socket.IPPROTO_UDP,
    (socket.AF_INET, TCP): socket.IPPROTO_TCP,
    (socket.AF_INET6, TCP): socket.IPPROTO_TCP,
}


# Classic BPF, for SO_ATTACH_FILTER (linux/filter.h).
_SO_ATTACH_FILTER = getattr(socket, "SO_ATTACH_FILTER", 26)
_BPF_LDX_B_MSH, _BPF_LD_H_IND, _BPF_LD_B_IND = 0xB1, 0x48, 0x50
_BPF_LD_H_ABS, _BPF_LD_B_ABS = 0x28, 0x30
_BPF_JEQ_K, _BPF_JSET_K, _BPF_RET_K = 0x15, 0x45, 0x06
_SYN_OR_RST = 0x06


def tcp_reply_filter(family: int, tag: int) -> list[tuple[int, int, int, int]]:
    """A socket filter that passes only SYN or RST segments acknowledging one of
    our probes (the ack number's high half is our *tag*).

    A raw TCP socket otherwise gets a copy of every segment the host receives:
    on a busy server that is every packet of every connection, each one waking
    the event loop.  IPv4 raw sockets see the IP header, IPv6 ones do not."""
    if family == socket.AF_INET:
        return [
            (_BPF_LDX_B_MSH, 0, 0, 0),  # X = IP header length
            (_BPF_LD_H_IND, 0, 0, 8),  # A = high half of the ack number
            (_BPF_JEQ_K, 0, 3, tag),
            (_BPF_LD_B_IND, 0, 0, 13),  # A = TCP flags
            (_BPF_JSET_K, 0, 1, _SYN_OR_RST),
            (_BPF_RET_K, 0, 0, 0xFFFF),
            (_BPF_RET_K, 0, 0, 0),
        ]
    return [
        (_BPF_LD_H_ABS, 0, 0, 8),
        (_BPF_JEQ_K, 0, 3, tag),
        (_BPF_LD_B_ABS, 0, 0, 13),
        (_BPF_JSET_K, 0, 1, _SYN_OR_RST),
        (_BPF_RET_K, 0, 0, 0xFFFF),
        (_BPF_RET_K, 0, 0, 0),
    ]


def attach_tcp_reply_filter(sock: socket.socket, family: int, tag: int) -> bool:
    """Attach :func:`tcp_reply_filter`; without it (no kernel support) replies are
    still matched in userspace, only at a higher cost."""
    import ctypes

    program = tcp_reply_filter(family, tag)
    code = b"".join(struct.pack("HBBI", *insn) for insn in program)
    buffer = ctypes.create_string_buffer(code, len(code))
    fprog = struct.pack("HL", len(program), ctypes.addressof(buffer))
    try:
        sock.setsockopt(socket.SOL_SOCKET, _SO_ATTACH_FILTER, fprog)
    except OSError as exc:
        logging.getLogger(__name__).debug("no filter on the raw TCP socket: %s", exc)
        return False
    return True


class RawEngine:
    """Raw-socket sender with one receive path that matches replies to probes."""

    def __init__(self, layers: dict[str, Any]) -> None:
        self._loop = asyncio.get_running_loop()
        self._layers = layers
        self.ident = random.randrange(1, 0xFFFF)
        self.tag = random.randrange(1, 0xFFFF)  # high half of our TCP sequence numbers
        self._next = random.randrange(1, 0xFFFE)
        self._pending: dict[tuple[str, int], _Pending] = {}
        self._socks: dict[tuple[int, str], socket.socket] = {}
        self._sources: dict[str, str] = {}
        self._sockaddrs: dict[str, Any] = {}
        self.late = LateErrors()
        self._sock(socket.AF_INET, ICMP)  # fail now (PermissionError) when not allowed

    @classmethod
    async def start(cls) -> RawEngine:
        layers = await run_in_daemon_thread(load_scapy)
        return cls(layers)

    def _sock(self, family: int, proto: str) -> socket.socket:
        sock = self._socks.get((family, proto))
        if sock is not None:
            return sock
        sock = socket.socket(family, socket.SOCK_RAW, _SOCK_PROTO[(family, proto)])
        sock.setblocking(False)
        if proto == TCP:
            attach_tcp_reply_filter(sock, family, self.tag)
        if proto == UDP:  # send-only: keep the copy of every incoming datagram small
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1)
        else:
            enable_rx_stamps(sock)
            self._loop.add_reader(sock.fileno(), self._readable, sock, family, proto)
        self._socks[(family, proto)] = sock
        return sock

    def close(self) -> None:
        for (_family, proto), sock in self._socks.items():
            if proto != UDP:
                with contextlib.suppress(Exception):
                    self._loop.remove_reader(sock.fileno())
            sock.close()
        self._socks.clear()
        for pending in self._pending.values():
            if not pending.future.done():
                pending.future.cancel()
        self._pending.clear()

    # receive path: every packet of every socket goes through here
    def _readable(self, sock: socket.socket, family: int, proto: str) -> None:
        for _ in range(256):
            try:
                data, addr, stamp = recv_stamped(sock)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # an error the kernel set for an earlier send: consumed
                continue
            self.feed(data, str(addr[0]), family, proto, time.monotonic(), stamp)

    def feed(
        self,
        data: bytes,
        sender: str,
        family: int,
        proto: str,
        when: float,
        stamp: float | None = None,
    ) -> None:
        """Match one received packet to its probe (malformed input is ignored).
        *when* is our clock's reading, *stamp* the kernel's receive timestamp."""
        try:
            if proto == ICMP:
                parsed = (
                    parse_icmp4(data, sender)
                    if family == socket.AF_INET
                    else parse_icmp6(data, sender)
                )
            else:
                parsed = (
                    parse_tcp4(data, sender)
                    if family == socket.AF_INET
                    else parse_tcp(data, sender)
                )
        except Exception:  # the parsers are total; this is a last line of defence
            parsed = None
        if parsed is None:  # not about our probes, or unreadable: ignored
            return
        if parsed.proto == ICMP and parsed.ident != self.ident:
            return
        pending = self._pending.get((parsed.proto, parsed.key))
        if pending is None:
            p = parsed
            self.late.match(
                (p.proto, p.key),
                lambda sent, dst: (
                    _reply(p, *round_trip(sent, when, stamp)) if _norm(p.dst) == dst else None
                ),
            )
            return
        if pending.future.done():
            return
        if parsed.proto in (UDP, TCP) and parsed.ident != pending.sport:
            return
        if parsed.proto == TCP and parsed.extra != self.tag:
            return
        if _norm(parsed.dst) != pending.dst:
            return
        pending.future.set_result((parsed, when, stamp))

    def _alloc(self) -> int:
        for _ in range(0x10000):
            key = self._next
            self._next = self._next + 1 if self._next < 0xFFFD else 1
            if all((proto, key) not in self._pending for proto in (ICMP, UDP, TCP)):
                return key
        raise OSError(errno.ENOBUFS, "too many probes in flight")

    def _source(self, dst: str) -> str:
        src = self._sources.get(dst)
        if src is None:
            src = self._sources[dst] = source_for(dst)
        return src

    def _craft(self, proto: str, dst: str, key: int, size: int, sport: int, dport: int) -> bytes:
        return craft(
            self._layers, proto, self._source(dst), _norm(dst), key, size, sport, dport,
            self.ident, self.tag,
        )  # fmt: skip

    async def probe(
        self,
        proto: str,
        dst: str,
        *,
        ttl: int,
        size: int,
        df: bool,
        timeout: float,
        sport: int = 0,
        dport: int = 0,
    ) -> Reply:
        family = family_of(dst)
        key = self._alloc()
        future: asyncio.Future[tuple[Parsed, float, float | None]] = self._loop.create_future()
        self._pending[(proto, key)] = _Pending(future, _norm(dst), sport)
        try:
            try:
                wire = self._craft(proto, dst, key, size, sport, dport)
                if proto != ICMP:  # the routers' answers to UDP/TCP probes are ICMP
                    self._sock(family, ICMP)
                sock = self._sock(family, proto)
                addr = self._sockaddrs.get(dst) or self._sockaddrs.setdefault(dst, _sockaddr(dst))
                _set_ttl_df(sock, ttl, df)
                sent = Sent.now()  # next to the syscall: the reply may be stamped within it
                try:
                    sock.sendto(wire, addr)
                except OSError as exc:
                    if exc.errno not in _STALE_ERRNOS:
                        raise
                    sent = Sent.now()
                    sock.sendto(wire, addr)  # the errno was left over from an earlier probe
            except OSError as exc:
                return _send_error(exc, dst)
            try:
                async with asyncio.timeout(timeout):
                    parsed, when, stamp = await future
            except TimeoutError:
                self.late.expire((proto, key), sent, _norm(dst))
                return Reply(TIMEOUT, rtt_s=timeout)
            return _reply(parsed, *round_trip(sent, when, stamp))
        finally:
            self._pending.pop((proto, key), None)


def _reply(p: Parsed, rtt: float, clock: str = WALL) -> Reply:
    return Reply(p.kind, p.sender, rtt, p.icmp_type, p.icmp_code, p.mtu, clock=clock)


ICMP_FLOW_CHECKSUM = 0x4E4D  # constant: routers hashing ICMP on its checksum keep one path


def craft(
    layers: dict[str, Any],
    proto: str,
    src: str,
    dst: str,
    key: int,
    size: int,
    sport: int,
    dport: int,
    ident: int,
    tag: int,
) -> bytes:
    """The L4 bytes of one probe (the kernel adds the IP header), built with scapy.

    The flow stays fixed, Paris-traceroute style: UDP keeps its ports and
    carries the probe number in its checksum (a payload word compensates);
    TCP keeps its ports and carries it in the sequence number; ICMP echo
    carries it in the sequence number and keeps its checksum constant.
    """
    L = layers
    v6 = ":" in dst
    header = 40 if v6 else 20
    ip = L["IPv6"](src=src, dst=dst) if v6 else L["IP"](src=src, dst=dst)
    if proto == ICMP:
        data = bytes(max(2, (size or (header + 64)) - header - 8))
        echo = (
            L["ICMPv6EchoRequest"](id=ident, seq=key, data=data)
            if v6
            else L["ICMP"](type=8, id=ident, seq=key) / L["Raw"](data)
        )
        wire = bytearray(bytes(ip / echo)[header:])
        current = struct.unpack_from("!H", wire, 2)[0]
        struct.pack_into("!H", wire, 8, checksum_fixer(current, ICMP_FLOW_CHECKSUM))
        # IPv4: we write the checksum.  IPv6: the kernel computes it on raw
        # ICMPv6 sockets, over the same bytes, and so gets the same constant.
        struct.pack_into("!H", wire, 2, 0 if v6 else ICMP_FLOW_CHECKSUM)
        return bytes(wire)
    if proto == UDP:
        zeros = bytes(max(2, (size or (header + 40)) - header - 8))
        wire = bytearray(bytes(ip / L["UDP"](sport=sport, dport=dport) / L["Raw"](zeros))[header:])
        current = struct.unpack_from("!H", wire, 6)[0]
        struct.pack_into("!H", wire, 8, checksum_fixer(current, key))
        struct.pack_into("!H", wire, 6, key)  # Paris: the checksum is the probe number
        return bytes(wire)
    seq = (tag << 16) | key
    syn = L["TCP"](sport=sport, dport=dport, flags="S", seq=seq, window=64240)
    return bytes(ip / syn)[header:]


class RawProber:
    privileged = True
    supports_ttl = True

    def __init__(self, engine: RawEngine, proto: str, port: int = 0) -> None:
        self.engine = engine
        self.proto = proto
        self.mode = f"raw-{proto}"
        self.sport = random.randrange(33000, 60000)  # fixed per prober: a stable flow
        self.dport = port if proto == TCP else (port or UDP_TRACE_PORT)

    async def probe(
        self, dst: str, *, ttl: int = 64, size: int = 0, df: bool = False, timeout: float = 1.0
    ) -> Reply:
        return await self.engine.probe(
            self.proto,
            dst,
            ttl=ttl,
            size=size,
            df=df,
            timeout=timeout,
            sport=self.sport,
            dport=self.dport,
        )

    def close(self) -> None:  # the engine belongs to the run
        pass

    def late_unreachable(self, dst: str) -> Reply | None:
        return self.engine.late.by_dst.get(_norm(dst))


# -- unprivileged probers -----------------------------------------------------


class _DgramProber:
    """A datagram socket whose errors (IP_RECVERR) and replies are matched by seq."""

    privileged = False
    supports_ttl = True
    mode = ""

    def __init__(self, family: int, proto: int) -> None:
        self._loop = asyncio.get_running_loop()
        self.family = family
        self.sock = socket.socket(family, socket.SOCK_DGRAM, proto)
        self.sock.setblocking(False)
        enable_recverr(self.sock)
        enable_rx_stamps(self.sock)  # replies and queued ICMP errors both get stamped
        self._pending: dict[int, tuple[asyncio.Future[Reply], Sent, str]] = {}
        self._next = random.randrange(1, 0xFFFE)
        self.late = LateErrors()
        self._loop.add_reader(self.sock.fileno(), self._readable)

    def late_unreachable(self, dst: str) -> Reply | None:
        return self.late.by_dst.get(_norm(dst))

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._loop.remove_reader(self.sock.fileno())
        self.sock.close()
        for future, _sent, _dst in self._pending.values():
            if not future.done():
                future.cancel()
        self._pending.clear()

    def _encode(self, seq: int, size: int) -> bytes:
        raise NotImplementedError

    def _seq_of(self, payload: bytes) -> int | None:
        raise NotImplementedError

    def _on_data(self, data: bytes, sender: str, when: float, stamp: float | None) -> None:
        return None

    def _readable(self) -> None:
        now = time.monotonic()
        for err in drain_error_queue(self.sock):
            self._on_error(err, now)
        for _ in range(256):
            try:
                data, addr, stamp = recv_stamped(self.sock)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                # An error was reported through the socket; read the queue again.
                for err in drain_error_queue(self.sock):
                    self._on_error(err, now)
                continue
            self._on_data(data, str(addr[0]), now, stamp)

    def _resolve(self, seq: int | None, reply_of: Any) -> None:
        if seq is None:
            return
        entry = self._pending.get(seq)
        if entry is None:
            self.late.match(seq, reply_of)
            return
        if entry[0].done():
            return
        future, sent, dst = entry
        reply = reply_of(sent, dst)
        if reply is not None:
            future.set_result(reply)

    def _on_error(self, err: QueuedError, when: float) -> None:
        def build(sent: Sent, dst: str) -> Reply | None:
            rtt, clock = round_trip(sent, when, err.stamp)
            if not err.from_icmp:
                if err.errno == errno.EMSGSIZE:
                    return Reply(ERROR, rtt_s=rtt, mtu=err.info, detail="EMSGSIZE", clock=clock)
                return None
            v4 = err.origin == SO_EE_ORIGIN_ICMP
            kind = _kind_of(v4, err.type, err.code)
            if (
                kind == UNREACHABLE
                and _is_port_unreachable(v4, err.type, err.code)
                and _norm(err.sender) == _norm(dst)
            ):
                kind = REPLY
            mtu = err.info if kind == FRAG_NEEDED else 0
            return Reply(kind, err.sender, rtt, err.type, err.code, mtu, clock=clock)

        self._resolve(self._seq_of(err.payload), build)

    def _alloc(self) -> int:
        while True:
            key = self._next
            self._next = self._next + 1 if self._next < 0xFFFD else 1
            if key not in self._pending:
                return key

    async def probe(
        self, dst: str, *, ttl: int = 64, size: int = 0, df: bool = False, timeout: float = 1.0
    ) -> Reply:
        seq = self._alloc()
        future: asyncio.Future[Reply] = self._loop.create_future()
        sent = Sent.now()
        self._pending[seq] = (future, sent, _norm(dst))
        try:
            try:
                _set_ttl_df(self.sock, ttl, df)
                addr = socket.getaddrinfo(
                    dst,
                    self._port(),
                    self.family,
                    socket.SOCK_DGRAM,
                    0,
                    socket.AI_NUMERICHOST,
                )[0][4]
                self._send(self._encode(seq, size), addr, future, seq, _norm(dst))
                sent = self._pending[seq][1]
            except OSError as exc:
                return _send_error(exc, dst)
            try:
                async with asyncio.timeout(timeout):
                    return await future
            except TimeoutError:
                self.late.expire(seq, sent, _norm(dst))
                return Reply(TIMEOUT, rtt_s=timeout)
        finally:
            self._pending.pop(seq, None)

    def _port(self) -> int:
        return 0

    def _send(
        self, wire: bytes, addr: Any, future: asyncio.Future[Reply], seq: int, dst: str
    ) -> None:
        # An ICMP error about an earlier probe sets the socket's pending error,
        # which the next send reports instead of sending: retry past it.
        for attempt in range(4):
            # the send time next to the syscall: on loopback the answer can be
            # stamped (and read) before sendto returns
            self._pending[seq] = (future, Sent.now(), dst)
            try:
                self.sock.sendto(wire, addr)
                return
            except OSError as exc:
                if exc.errno not in _STALE_ERRNOS or attempt == 3:
                    raise


_STALE_ERRNOS = {errno.EHOSTUNREACH, errno.ECONNREFUSED, errno.ENETUNREACH, errno.EPROTO}


def _kind_of(v4: bool, icmp_type: int, code: int) -> str:
    if v4:
        if icmp_type == 11:
            return TIME_EXCEEDED
        if icmp_type == 3 and code == 4:
            return FRAG_NEEDED
        return UNREACHABLE
    if icmp_type == 3:
        return TIME_EXCEEDED
    if icmp_type == 2:
        return FRAG_NEEDED
    return UNREACHABLE


def _is_port_unreachable(v4: bool, icmp_type: int, code: int) -> bool:
    return (icmp_type, code) == ((3, 3) if v4 else (1, 4))


class DgramIcmpProber(_DgramProber):
    """ICMP echo over an unprivileged ICMP datagram socket (ping_group_range)."""

    mode = "icmp-dgram"

    def __init__(self, family: int) -> None:
        proto = socket.IPPROTO_ICMPV6 if family == socket.AF_INET6 else socket.IPPROTO_ICMP
        super().__init__(family, proto)

    def _encode(self, seq: int, size: int) -> bytes:
        header = 40 if self.family == socket.AF_INET6 else 20
        kind = 128 if self.family == socket.AF_INET6 else 8
        data = b"\x00" * max(0, (size or header + 64) - header - 8)
        # The kernel sets the id (our socket's "port") and the checksum.
        return struct.pack("!BBHHH", kind, 0, 0, 0, seq) + data

    def _seq_of(self, payload: bytes) -> int | None:
        if len(payload) < 8:
            return None
        return int(struct.unpack_from("!H", payload, 6)[0])

    def _on_data(self, data: bytes, sender: str, when: float, stamp: float | None) -> None:
        if len(data) < 8 or data[0] not in (0, 129):
            return
        seq = int(struct.unpack_from("!H", data, 6)[0])

        def build(sent: Sent, dst: str) -> Reply:
            rtt, clock = round_trip(sent, when, stamp)
            return Reply(REPLY, sender, rtt, data[0], data[1], clock=clock)

        self._resolve(seq, build)


_UDP_MAGIC = b"NM"


class UdpRecverrProber(_DgramProber):
    """UDP probes with IP_RECVERR (tracepath's way): no privilege needed."""

    mode = "udp-recverr"

    def __init__(self, family: int, port: int = UDP_TRACE_PORT) -> None:
        super().__init__(family, socket.IPPROTO_UDP)
        self.port = port
        self.sock.bind(("::" if family == socket.AF_INET6 else "0.0.0.0", 0))

    def _port(self) -> int:
        return self.port

    def _encode(self, seq: int, size: int) -> bytes:
        header = 40 if self.family == socket.AF_INET6 else 20
        return (_UDP_MAGIC + struct.pack("!H", seq)).ljust(max(4, (size or 0) - header - 8), b"\0")

    def _seq_of(self, payload: bytes) -> int | None:
        if len(payload) < 4 or payload[:2] != _UDP_MAGIC:
            return None
        return int(struct.unpack_from("!H", payload, 2)[0])


class TcpConnectProber:
    """A TCP connect to the target's port: SYN-ACK or RST both prove the host answers."""

    mode = "tcp-connect"
    privileged = False
    supports_ttl = False

    def __init__(self, port: int) -> None:
        self.port = port

    async def probe(
        self, dst: str, *, ttl: int = 64, size: int = 0, df: bool = False, timeout: float = 1.0
    ) -> Reply:
        loop = asyncio.get_running_loop()
        family = family_of(dst)
        try:
            addr = socket.getaddrinfo(
                dst, self.port, family, socket.SOCK_STREAM, 0, socket.AI_NUMERICHOST
            )[0][4]
            sock = socket.socket(family, socket.SOCK_STREAM)
        except OSError as exc:
            return _send_error(exc, dst)
        with contextlib.closing(sock):
            sock.setblocking(False)
            enable_recverr(sock)
            started = time.monotonic()
            try:
                async with asyncio.timeout(timeout):
                    await loop.sock_connect(sock, addr)
            except TimeoutError:
                return Reply(TIMEOUT, rtt_s=timeout)
            except ConnectionRefusedError:
                icmp = read_icmp_error(sock)
                rtt = time.monotonic() - started
                if icmp is None:
                    return Reply(REPLY, _norm(dst), rtt, detail="RST")
                return Reply(UNREACHABLE, icmp.sender, rtt, icmp.type, icmp.code)
            except OSError as exc:
                icmp = read_icmp_error(sock)
                rtt = time.monotonic() - started
                if icmp is not None:
                    return Reply(UNREACHABLE, icmp.sender, rtt, icmp.type, icmp.code)
                return Reply(ERROR, rtt_s=rtt, detail=_errno_name(exc))
            wall = time.monotonic() - started
            kernel = kernel_rtt(sock)
            if kernel is not None and not kernel.retransmits:  # the handshake, by the kernel
                return Reply(REPLY, _norm(dst), kernel.rtt_s, detail="SYN-ACK", clock=KERNEL)
            return Reply(REPLY, _norm(dst), wall, detail="SYN-ACK")

    def close(self) -> None:
        pass

    def late_unreachable(self, dst: str) -> Reply | None:
        return None


# -- choosing a prober --------------------------------------------------------


async def raw_engine(ctx: ProbeContext) -> RawEngine | None:
    """The run's shared raw engine, or None when raw sockets are not allowed."""
    if ctx.config.path_mode == "unprivileged" or not has_raw_socket():
        return None

    async def start() -> RawEngine | None:
        try:
            return await RawEngine.start()
        except (PermissionError, ImportError):
            return None

    return await ctx.shared("raw-engine", start)


@dataclass(frozen=True, slots=True)
class ModeInfo:
    """Which way a path probe ran, and how to get the full one."""

    mode: str
    privileged: bool
    hint: str = ""  # what to do for the full (raw socket) mode; empty when it ran


async def open_prober(
    ctx: ProbeContext, purpose: str, family: int, protocol: str = ICMP
) -> tuple[Prober | None, ModeInfo]:
    """A prober for *purpose* (ping | trace | mtu), the best this process may use."""
    engine = await raw_engine(ctx)
    if engine is not None:
        raw = RawProber(engine, protocol if purpose == "trace" else ICMP, ctx.target.port)
        await stamping_live()
        return raw, ModeInfo(raw.mode, True)
    if purpose == "trace":
        udp = UdpRecverrProber(family)
        await stamping_live()
        note = f"{FULL_MODE_HINT}; ICMP and TCP traceroute need raw sockets"
        if protocol != UDP:
            note += f" (asked for {protocol}, ran UDP)"
        return udp, ModeInfo(udp.mode, False, note)
    try:
        dgram = DgramIcmpProber(family)
        await stamping_live()
        return dgram, ModeInfo(dgram.mode, False, FULL_MODE_HINT)
    except OSError:
        pass
    if purpose == "ping":
        tcp = TcpConnectProber(ctx.target.port)
        return tcp, ModeInfo(tcp.mode, False, f"{FULL_MODE_HINT}; or {PING_SOCKET_HINT}")
    return None, ModeInfo("none", False, f"{FULL_MODE_HINT}; or {PING_SOCKET_HINT}")


# -- budgets ------------------------------------------------------------------

SNAPSHOT_EVERY_S = 0.1  # streaming probes publish at most this often, never per packet


def reply_timeout(ctx: ProbeContext, cap: float = 1.0) -> float:
    """How long one probe waits for its answer."""
    return min(cap, max(0.2, ctx.config.timeout / 2))


def send_window(ctx: ProbeContext, duration: float | None, wait: float) -> float | None:
    """How long to keep sending: None means until cancelled (duration 0)."""
    if duration is None:  # fit everything inside the run's per-probe deadline
        return max(0.0, ctx.config.timeout - wait - 0.3)
    if duration <= 0:
        return None
    return duration


def pick_addresses(addresses: tuple[str, ...]) -> tuple[str, ...]:
    """The first address of each family, in resolver order."""
    seen: dict[int, str] = {}
    for address in addresses:
        seen.setdefault(family_of(address), address)
    return tuple(seen.values())


def icmp_name(reply: Reply) -> str:
    from probes.wire.icmp_errors import ICMP4_UNREACH, ICMP6_UNREACH

    v6 = ":" in reply.responder
    if reply.kind == TIME_EXCEEDED:
        return "time exceeded"
    if reply.kind == FRAG_NEEDED:
        return "packet too big" if v6 else "fragmentation needed"
    if reply.kind == UNREACHABLE:
        names = ICMP6_UNREACH if v6 else ICMP4_UNREACH
        return names.get(reply.icmp_code, f"unreachable code {reply.icmp_code}")
    return reply.kind
