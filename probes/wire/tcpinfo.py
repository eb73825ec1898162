"""The kernel's own round-trip figures for a TCP socket (``TCP_INFO``, what ``ss -ti`` shows).

Right after a connect completes, ``tcpi_rtt`` is the kernel's measurement of the
handshake: from the SYN leaving to the SYN-ACK arriving, both stamped in the
kernel, so it does not depend on when this process's event loop woke up.  A
retransmitted SYN breaks that: the kernel keeps no timestamp of the first SYN we
can read, so the connect time is then only known by our own clock (and the
kernel's RTT is from a later sample, if any).
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass

# Offsets in struct tcp_info (include/uapi/linux/tcp.h), stable since Linux 2.6.
_TCP_INFO = getattr(socket, "TCP_INFO", 11)
_NEEDED = 104
_RTT_AT, _RTTVAR_AT, _TOTAL_RETRANS_AT = 68, 72, 100
_LAST_DATA_SENT_AT, _LAST_DATA_RECV_AT = 44, 52  # milliseconds ago (jiffies: 1-4 ms steps)
_BYTES_RECEIVED_AT, _DATA_SEGS_IN_AT = 128, 152  # tcpi_bytes_received (u64), tcpi_data_segs_in
_WITH_COUNTERS = 156  # Linux 4.6+


@dataclass(frozen=True, slots=True)
class KernelRtt:
    """The kernel's figures for one TCP socket, in seconds."""

    rtt_s: float  # smoothed RTT (tcpi_rtt); right after connect: the handshake's RTT
    rttvar_s: float  # its variation (tcpi_rttvar)
    retransmits: int  # segments retransmitted so far (tcpi_total_retrans): after connect, SYNs


def _tcp_info(sock: socket.socket) -> bytes | None:
    try:
        raw = sock.getsockopt(socket.IPPROTO_TCP, _TCP_INFO, _NEEDED)
    except (OSError, ValueError):
        return None
    return raw if len(raw) >= _NEEDED else None


@dataclass(frozen=True, slots=True)
class Received:
    """What a TCP socket has received so far, by the kernel's counters."""

    payload_bytes: int  # tcpi_bytes_received
    data_segments: int  # tcpi_data_segs_in


def received(sock: socket.socket) -> Received | None:
    """The socket's receive counters: whether an answer came at all, which the last-data
    stamps cannot tell within one jiffy (they start at the handshake), and in how many
    segments (the stamps are of the last one).  None before Linux 4.6."""
    try:
        raw = sock.getsockopt(socket.IPPROTO_TCP, _TCP_INFO, _WITH_COUNTERS)
    except (OSError, ValueError):
        return None
    if len(raw) < _WITH_COUNTERS:
        return None
    (payload,) = struct.unpack_from("=Q", raw, _BYTES_RECEIVED_AT)
    (segments,) = struct.unpack_from("=I", raw, _DATA_SEGS_IN_AT)
    return Received(int(payload), int(segments))


def kernel_wait(sock: socket.socket) -> float | None:
    """Seconds from the last data this socket sent to the last data it received, by the
    kernel's clock (millisecond steps): read as soon as a response has come in, the
    server's think time, however late this process got round to reading the answer.
    None when nothing came back after the last send."""
    raw = _tcp_info(sock)
    if raw is None:
        return None
    (sent_ago_ms,) = struct.unpack_from("=I", raw, _LAST_DATA_SENT_AT)
    (recv_ago_ms,) = struct.unpack_from("=I", raw, _LAST_DATA_RECV_AT)
    if recv_ago_ms > sent_ago_ms:
        return None
    return (sent_ago_ms - recv_ago_ms) / 1000


def kernel_rtt(sock: socket.socket) -> KernelRtt | None:
    """``TCP_INFO`` of a connected TCP socket; None when the kernel has no RTT sample."""
    raw = _tcp_info(sock)
    if raw is None:
        return None
    (rtt_us,) = struct.unpack_from("=I", raw, _RTT_AT)
    (rttvar_us,) = struct.unpack_from("=I", raw, _RTTVAR_AT)
    (retrans,) = struct.unpack_from("=I", raw, _TOTAL_RETRANS_AT)
    if rtt_us == 0:
        return None
    return KernelRtt(rtt_us / 1e6, rttvar_us / 1e6, retrans)
