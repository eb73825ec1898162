"""One classified TCP connect, shared by every probe that opens a connection.

The attempt is classified the way an engineer reads ``nc -zv``: open, refused
(the address answered the SYN with a reset), filtered (no answer by the
deadline), unreachable (ICMP from a router or firewall, named when the kernel
tells us who sent it through IP_RECVERR), or a local error (out of ports or
file descriptors).  On an open port it listens briefly for a greeting and
names the protocol from it.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import socket
import time
from dataclasses import dataclass

from probes.core.clocks import KERNEL, WALL, clocked, fine_ms
from probes.core.deadline import deadline
from probes.core.sanitize import clean_bytes
from probes.core.target import endpoint
from probes.wire.banner import NUDGE, identify
from probes.wire.icmp_errors import IcmpReport, enable_recverr, read_icmp_error
from probes.wire.tcpinfo import KernelRtt, kernel_rtt

OPEN, REFUSED, FILTERED, UNREACHABLE, LOCAL_ERROR, ERROR = (
    "open",
    "refused",
    "filtered",
    "unreachable",
    "local_error",
    "error",
)
_UNREACHABLE = {errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EACCES, errno.EPERM, errno.EHOSTDOWN}
# The handshake completed and the peer reset before connect() returned to us.
_RESET_AT_ONCE = {errno.ECONNRESET, errno.ECONNABORTED, errno.EPIPE}
_LOCAL = {errno.EADDRNOTAVAIL, errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.EADDRINUSE}


@dataclass(frozen=True, slots=True)
class TcpAttempt:
    address: str
    family: int  # 4 or 6
    port: int
    state: str  # open | refused | filtered | unreachable | local_error | error
    elapsed_s: float  # by our (user-space) clock: includes any wait for the event loop
    errno_name: str = ""
    explanation: str = ""
    icmp: IcmpReport | None = None
    banner: str = ""  # first bytes the server sent, sanitised
    protocol: str = ""  # protocol named from the banner
    closed_by_peer: str = ""  # "reset" / "eof" when the server hung up at once
    source: str = ""  # local address:port used
    closed_after_s: float = 0.0  # from the completed connect to the hang-up
    # Outcomes of the extra quick connects the TCP probe makes to an open port
    # ("ok", "reset", "eof", or a failed state): catches a server that drops
    # only some connections.
    repeats: tuple[str, ...] = ()
    repeat_sources: tuple[str, ...] = ()  # the local address:port of each repeat that got one
    # The kernel's handshake figures (TCP_INFO, read right after the connect):
    # None when the kernel took no RTT sample (or the connect failed).
    kernel_rtt_s: float | None = None
    kernel_rttvar_s: float | None = None
    syn_retransmits: int = 0

    @property
    def ok(self) -> bool:
        return self.state == OPEN

    @property
    def kernel_connect_s(self) -> float | None:
        """The connect time by the kernel's clock: SYN out to SYN-ACK in.  Only when the
        first SYN was answered (a retransmitted one leaves no kernel timestamp of the first)."""
        return self.kernel_rtt_s if self.syn_retransmits == 0 else None

    @property
    def connect_s(self) -> float:
        """The connect time shown: the kernel's when it has one, else our clock's."""
        kernel = self.kernel_connect_s
        return self.elapsed_s if kernel is None else kernel

    @property
    def connect_clock(self) -> str:
        """Which clock :attr:`connect_s` came from (probes.core.clocks)."""
        return WALL if self.kernel_connect_s is None else KERNEL

    @property
    def connect_text(self) -> str:
        """``0.042 ms (kernel)`` / ``1003.4 ms (our clock)``."""
        return clocked(self.connect_s, self.connect_clock)


async def connect_once(address: str, port: int, timeout: float, banner_wait: float) -> TcpAttempt:
    """One classified connect attempt to *address*:*port*."""
    loop = asyncio.get_running_loop()
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    version = 6 if family == socket.AF_INET6 else 4
    started = time.monotonic()
    try:
        sockaddr = socket.getaddrinfo(
            address, port, family, socket.SOCK_STREAM, 0, socket.AI_NUMERICHOST
        )[0][4]
    except (socket.gaierror, UnicodeError) as exc:
        return TcpAttempt(address, version, port, ERROR, 0.0, "EINVAL", f"bad address: {exc}")
    try:
        sock = socket.socket(family, socket.SOCK_STREAM)
    except OSError as exc:
        return _local_failure(address, version, port, exc, 0.0)
    with contextlib.closing(sock):
        sock.setblocking(False)
        enable_recverr(sock)
        seen_late = False
        try:
            async with deadline(timeout):
                await loop.sock_connect(sock, sockaddr)
        except TimeoutError:
            if not handshake_completed(sock):
                return _timed_out(sock, address, version, port, timeout, started)
            seen_late = True  # the SYN-ACK came in time; this process ran too late to see it
        except OSError as exc:
            return _classify_error(sock, address, version, port, exc, time.monotonic() - started)
        elapsed = time.monotonic() - started
        kernel = kernel_rtt(sock)  # before anything else happens on the socket
        source = _sockname(sock)
        banner, closed = await _read_banner(sock, banner_wait)
        closed_after = time.monotonic() - started - elapsed if closed else 0.0
        protocol = identify(banner) or ""
        text = "connected in " + connect_figure(elapsed, kernel)
        if seen_late:
            text += " (seen late: this process could not run when the answer came)"
        if closed:
            how = "reset" if closed == "reset" else "closed (FIN)"
            text += f", then the server {how} it {closed_after * 1000:.0f} ms later, before we sent anything"
        return TcpAttempt(
            address,
            version,
            port,
            OPEN,
            elapsed,
            "ECONNRESET" if closed == "reset" else "",
            text,
            banner=clean_bytes(banner, 120),
            protocol=protocol,
            closed_by_peer=closed,
            source=source,
            closed_after_s=closed_after,
            kernel_rtt_s=kernel.rtt_s if kernel else None,
            kernel_rttvar_s=kernel.rttvar_s if kernel else None,
            syn_retransmits=kernel.retransmits if kernel else 0,
        )


def handshake_completed(sock: socket.socket) -> bool:
    """True when the kernel finished the connect of *sock* although our wait for it
    expired: the answer came in time, this process could not run to read it."""
    try:
        if sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) != 0:
            return False
        sock.getpeername()
    except OSError:
        return False
    return True


def _timed_out(
    sock: socket.socket, address: str, version: int, port: int, timeout: float, started: float
) -> TcpAttempt:
    icmp = read_icmp_error(sock)
    if icmp is not None:
        # The kernel heard an ICMP error about our SYN but kept trying (a
        # soft error: it came while the socket was busy, or for a
        # retransmission): report what the kernel heard, not a timeout.
        return _icmp_failure(address, version, port, icmp, time.monotonic() - started)
    return TcpAttempt(
        address,
        version,
        port,
        FILTERED,
        time.monotonic() - started,
        "TIMEOUT",
        f"no answer to the SYN within {timeout:g}s: dropped by a firewall, or the host is down",
        icmp,
        source=_sockname(sock),
    )


def connect_figure(wall_s: float, kernel: KernelRtt | None) -> str:
    """ "0.042 ms (kernel; 84.7 ms by our clock)": the kernel's figure first, our clock's
    labelled as such, and why the kernel has none when it has none."""
    wall = fine_ms(wall_s)
    if kernel is None:
        return f"{wall} (our clock; the kernel took no RTT sample)"
    if kernel.retransmits:
        return (
            f"{wall} (our clock: the SYN was retransmitted {kernel.retransmits} time(s), "
            f"no kernel timestamp of the first; kernel rtt {fine_ms(kernel.rtt_s)})"
        )
    return f"{fine_ms(kernel.rtt_s)} (kernel; {wall} by our clock)"


async def quick_connect(address: str, port: int, timeout: float, wait: float) -> tuple[str, str]:
    """Connect once more and watch *wait* seconds for the server hanging up at once.

    Returns the outcome — "ok" (still open, or it sent data), "reset", "eof", or the
    state of a connect that failed — and the local address:port used ("" when the
    socket got none).  Sends nothing."""
    loop = asyncio.get_running_loop()
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    try:
        sockaddr = socket.getaddrinfo(
            address, port, family, socket.SOCK_STREAM, 0, socket.AI_NUMERICHOST
        )[0][4]
        sock = socket.socket(family, socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return ERROR, ""
    with contextlib.closing(sock):
        sock.setblocking(False)
        try:
            async with deadline(timeout):
                await loop.sock_connect(sock, sockaddr)
        except TimeoutError:
            if not handshake_completed(sock):
                return FILTERED, _sockname(sock)
        except ConnectionRefusedError:
            return REFUSED, ""
        except OSError as exc:
            return ("reset" if exc.errno in _RESET_AT_ONCE else ERROR), _sockname(sock)
        source = _sockname(sock)
        _data, closed = await _recv_for(loop, sock, wait)
        return closed or "ok", source


def _classify_error(
    sock: socket.socket, address: str, version: int, port: int, exc: OSError, elapsed: float
) -> TcpAttempt:
    code = exc.errno or 0
    name = errno.errorcode.get(code, f"errno {code}")
    icmp = read_icmp_error(sock)
    if code in _RESET_AT_ONCE:
        return TcpAttempt(
            address,
            version,
            port,
            OPEN,
            elapsed,
            name,
            f"the server accepted the connection and reset it at once ({name}), "
            "before we sent anything",
            icmp,
            closed_by_peer="reset",
        )
    if code == errno.ECONNREFUSED and (icmp is None or icmp.code in (3, 4)):
        who = f" (ICMP port unreachable from {icmp.sender})" if icmp else ""
        return TcpAttempt(
            address,
            version,
            port,
            REFUSED,
            elapsed,
            name,
            f"{address} answered the SYN with a reset{who}",
            icmp,
        )
    if code in _UNREACHABLE or code == errno.ECONNREFUSED:
        if icmp is not None:
            text = f"{icmp.sender} answered ICMP {icmp.name} ({name})"
        elif code in (errno.EACCES, errno.EPERM):
            text = f"{name}: a local firewall rule (OUTPUT chain) refused the connection"
        elif code == errno.ENETUNREACH:
            text = f"{name}: this host has no route to {address}"
        else:
            text = f"{name}: {exc.strerror or 'unreachable'} (no router named itself)"
        return TcpAttempt(address, version, port, UNREACHABLE, elapsed, name, text, icmp)
    if code in _LOCAL:
        return _local_failure(address, version, port, exc, elapsed)
    if code == errno.ETIMEDOUT:
        return TcpAttempt(
            address,
            version,
            port,
            FILTERED,
            elapsed,
            name,
            "the kernel gave up retransmitting the SYN: dropped by a firewall, or the host is down",
            icmp,
        )
    return TcpAttempt(address, version, port, ERROR, elapsed, name, str(exc.strerror or exc), icmp)


def _icmp_failure(
    address: str, version: int, port: int, icmp: IcmpReport, elapsed: float
) -> TcpAttempt:
    name = icmp.errno_name or "EHOSTUNREACH"
    if name == "ECONNREFUSED":
        text = f"{address} answered the SYN with ICMP port unreachable from {icmp.sender}"
        return TcpAttempt(address, version, port, REFUSED, elapsed, name, text, icmp)
    text = f"{icmp.sender} answered ICMP {icmp.name} ({name})"
    return TcpAttempt(address, version, port, UNREACHABLE, elapsed, name, text, icmp)


def _local_failure(
    address: str, version: int, port: int, exc: OSError, elapsed: float
) -> TcpAttempt:
    code = exc.errno or 0
    name = errno.errorcode.get(code, f"errno {code}")
    reasons = {
        errno.EADDRNOTAVAIL: "no free local port or source address (ephemeral ports exhausted?)",
        errno.EMFILE: "this process is out of file descriptors (ulimit -n)",
        errno.ENFILE: "the system is out of file descriptors (fs.file-max)",
        errno.ENOBUFS: "the kernel is out of socket buffers",
        errno.EADDRINUSE: "the local address is in use",
    }
    text = reasons.get(code, str(exc.strerror or exc))
    return TcpAttempt(address, version, port, LOCAL_ERROR, elapsed, name, text)


async def _read_banner(sock: socket.socket, wait: float) -> tuple[bytes, str]:
    """First bytes from the server; nudge a silent one once.  Returns (bytes, closed)."""
    loop = asyncio.get_running_loop()
    data, closed = await _recv_for(loop, sock, wait)
    if data or closed or wait <= 0:
        return data, closed
    try:
        await loop.sock_sendall(sock, NUDGE)
    except OSError:
        return b"", "reset"
    data, _closed_after_nudge = await _recv_for(loop, sock, wait)
    return data, ""


async def _recv_for(
    loop: asyncio.AbstractEventLoop, sock: socket.socket, wait: float
) -> tuple[bytes, str]:
    try:
        async with asyncio.timeout(wait):
            data = await loop.sock_recv(sock, 512)
    except TimeoutError:
        return b"", ""
    except ConnectionResetError:
        return b"", "reset"
    except OSError:
        return b"", "reset"
    return (data, "") if data else (b"", "eof")


def stream_source(writer: asyncio.StreamWriter) -> str:
    """The local address:port of an asyncio stream's connection ("" when unknown): what
    the server sees as its peer, so a local look can tell this run's own connections."""
    try:
        sockname = writer.get_extra_info("sockname")
    except (AttributeError, OSError):  # a closed TLS transport has no socket to ask
        return ""
    if not isinstance(sockname, tuple) or len(sockname) < 2:
        return ""
    return endpoint(str(sockname[0]), int(sockname[1]))


def _sockname(sock: socket.socket) -> str:
    try:
        host, port = sock.getsockname()[:2]
    except OSError:
        return ""
    return endpoint(host, port)
