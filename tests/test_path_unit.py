"""Path probes without a network: parsers, statistics, rules, budgets, import hygiene."""

from __future__ import annotations

import asyncio
import dataclasses
import subprocess
import sys
import tracemalloc
from collections.abc import AsyncGenerator
from typing import cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from probes.core.context import ProbeConfig, ProbeContext
from probes.core.events import Event, ProbeUpdate
from probes.core.model import Diagnosis, ProbeResult, Severity, Status
from probes.core.target import parse_target
from probes.diagnosis import diagnose
from probes.path.packets import (
    FRAG_NEEDED,
    REPLY,
    TIME_EXCEEDED,
    checksum_fixer,
    parse_icmp4,
    parse_icmp6,
    parse_tcp,
)
from probes.path.pathengine import Reply
from probes.path.pathstats import RunningStats
from probes.path.ping import PingData, PingHost
from probes.path.trace import Hop, Responder, TraceData
from probes.run.plans import PROBES
from probes.run.runner import DEADLINE_GRACE_S, Run, probe_deadline, run_to_end

scapy_inet = pytest.importorskip("scapy.layers.inet")
scapy_inet6 = pytest.importorskip("scapy.layers.inet6")
IP, ICMP, UDP, TCP = scapy_inet.IP, scapy_inet.ICMP, scapy_inet.UDP, scapy_inet.TCP
IPv6 = scapy_inet6.IPv6


def test_probes_start_without_scapy() -> None:
    code = (
        "import sys, probes.run.plans, probes.run.runner, probes.diagnosis, tui.cli;"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('scapy', 'textual', 'rich')];"
        "print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_paris_udp_checksum_carries_the_probe_number() -> None:
    for key in (1, 2, 0x1234, 0xFFFD):
        base = IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=40000, dport=33434) / (b"\0" * 12)
        raw = bytearray(bytes(base))
        current = int.from_bytes(raw[26:28], "big")
        raw[28:30] = checksum_fixer(current, key).to_bytes(2, "big")
        raw[26:28] = key.to_bytes(2, "big")
        # scapy agrees the checksum we wrote is the right one for the payload we wrote
        again = IP(bytes(raw))
        del again[UDP].chksum
        assert IP(bytes(again))[UDP].chksum == key


@pytest.mark.parametrize("dst", ["10.0.0.2", "fd00::2"])
def test_crafted_probes_keep_the_flow_and_carry_the_key(dst: str) -> None:
    from probes.path.pathengine import ICMP_FLOW_CHECKSUM, craft, load_scapy

    layers = load_scapy()
    src = "fd00::1" if ":" in dst else "10.0.0.1"
    for key in (1, 77, 0xFFFD):
        icmp = craft(layers, "icmp", src, dst, key, 0, 0, 0, 0x1111, 0x2222)
        if ":" not in dst:
            assert icmp[2:4] == ICMP_FLOW_CHECKSUM.to_bytes(2, "big")
            assert icmp[6:8] == key.to_bytes(2, "big")
            full = IP(bytes(IP(src=src, dst=dst, proto=1) / icmp))
            del full[ICMP].chksum
            assert IP(bytes(full))[ICMP].chksum == ICMP_FLOW_CHECKSUM
        else:
            # what the kernel will compute over these bytes
            pkt = IPv6(bytes(IPv6(src=src, dst=dst, nh=58) / scapy_inet6.Raw(icmp)))
            raw = bytes(pkt)[40:]
            assert scapy_inet6.in6_chksum(58, pkt, raw) == ICMP_FLOW_CHECKSUM
        udp = craft(layers, "udp", src, dst, key, 0, 40000, 33434, 0, 0)
        assert udp[:4] == (40000).to_bytes(2, "big") + (33434).to_bytes(2, "big")
        assert udp[6:8] == key.to_bytes(2, "big")
        tcp = craft(layers, "tcp", src, dst, key, 0, 40000, 22, 0, 0x2222)
        assert tcp[4:8] == ((0x2222 << 16) | key).to_bytes(4, "big")


def test_time_exceeded_quoting_udp_is_matched() -> None:
    probe = IP(src="10.0.0.1", dst="10.9.9.9", ttl=1) / UDP(sport=40000, dport=33434, chksum=77)
    te = IP(src="10.0.0.254", dst="10.0.0.1") / ICMP(type=11) / bytes(probe)[:28]
    parsed = parse_icmp4(bytes(te), "10.0.0.254")
    assert parsed is not None
    assert (parsed.kind, parsed.proto, parsed.key, parsed.ident) == (
        TIME_EXCEEDED,
        "udp",
        77,
        40000,
    )
    assert parsed.dst == "10.9.9.9"


def test_frag_needed_carries_mtu_and_v6_packet_too_big() -> None:
    probe = IP(src="10.0.0.1", dst="10.9.9.9") / ICMP(type=8, id=5, seq=9)
    fn = IP(src="10.0.0.254", dst="10.0.0.1") / ICMP(type=3, code=4, nexthopmtu=1400) / bytes(probe)
    parsed = parse_icmp4(bytes(fn), "10.0.0.254")
    assert parsed is not None and parsed.kind == FRAG_NEEDED and parsed.mtu == 1400
    assert parsed.key == 9 and parsed.ident == 5
    inner = bytes(IPv6(src="fd00::1", dst="fd00::9") / UDP(sport=1, dport=2, chksum=3))
    ptb = bytes([2, 0, 0, 0]) + (1280).to_bytes(4, "big") + inner
    parsed6 = parse_icmp6(ptb, "fd00::fe")
    assert parsed6 is not None and parsed6.kind == FRAG_NEEDED and parsed6.mtu == 1280
    assert parsed6.key == 3


def test_port_unreachable_from_the_destination_is_an_answer() -> None:
    probe = IP(src="10.0.0.1", dst="10.9.9.9") / UDP(sport=40000, dport=33434, chksum=5)
    pu = IP(src="10.9.9.9", dst="10.0.0.1") / ICMP(type=3, code=3) / bytes(probe)
    parsed = parse_icmp4(bytes(pu), "10.9.9.9")
    assert parsed is not None and parsed.kind == REPLY


def test_syn_ack_is_matched_by_ack_number() -> None:
    seg = bytes(TCP(sport=22, dport=40000, flags="SA", seq=1, ack=((0xBEEF << 16) | 42) + 1))
    parsed = parse_tcp(seg, "10.9.9.9")
    assert parsed is not None and (parsed.key, parsed.extra, parsed.ident) == (42, 0xBEEF, 40000)


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=120))
def test_parsers_never_raise_on_junk(data: bytes) -> None:
    parse_icmp4(data, "10.0.0.1")
    parse_icmp4(b"\x45" + data, "10.0.0.1")
    parse_icmp6(data, "fd00::1")
    parse_icmp6(b"\x03\x00\x00\x00\x00\x00\x00\x00\x60" + data, "fd00::1")
    parse_tcp(data, "10.0.0.1")


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 60), st.binary(max_size=40))
def test_truncated_quotes_never_raise(cut: int, tail: bytes) -> None:
    probe = bytes(IP(src="10.0.0.1", dst="10.9.9.9") / TCP(sport=1, dport=2, seq=7))
    te = bytes(IP(src="10.0.0.254", dst="10.0.0.1") / ICMP(type=11)) + probe[:cut] + tail
    parse_icmp4(te, "10.0.0.254")


def test_running_stats_match_ping_definitions() -> None:
    s = RunningStats()
    for rtt in (0.010, 0.020, None, 0.030):
        s.add(rtt)
    snap = s.snapshot()
    assert (snap.sent, snap.received, snap.loss_pct) == (4, 3, 25.0)
    assert snap.min_s == 0.010 and snap.max_s == 0.030
    assert snap.avg_s == pytest.approx(0.020)
    assert snap.mdev_s == pytest.approx(0.0081650, rel=1e-3)
    assert snap.jitter_s == pytest.approx(0.010)


def test_ping_memory_is_bounded() -> None:
    from probes.path.ping import _Host

    class Fake:
        mode = "fake"

    host = _Host("10.0.0.1", Fake())  # type: ignore[arg-type]
    for i in range(200):
        host.record(i, Reply(REPLY, "10.0.0.1", 0.001))
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    for i in range(200, 20200):
        host.record(i, Reply(REPLY, "10.0.0.1", 0.001))
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    growth = sum(d.size_diff for d in after.compare_to(before, "filename"))
    assert growth < 64 * 1024
    assert len(host.snapshot().recent) == 60


def test_echoes_held_back_by_neighbour_resolution_are_not_latency() -> None:
    from probes.path.ping import PingSample, settled_rtts

    held = tuple(PingSample(i, "reply", r) for i, r in enumerate((0.868, 0.669, 0.468, 0.268)))
    assert settled_rtts(held, 0.2) == []
    later = (*held, PingSample(4, "reply", 0.0011), PingSample(5, "reply", 0.0012))
    assert settled_rtts(later, 0.2) == [0.0011, 0.0012]
    slow = tuple(PingSample(i, "reply", 0.3 + 0.001 * (i % 2)) for i in range(6))
    assert len(settled_rtts(slow, 0.2)) == 6  # steady 300 ms is latency


def test_streaming_probe_deadlines() -> None:
    cfg = ProbeConfig(timeout=2)
    assert probe_deadline(PROBES["ping"], cfg) == 2 + DEADLINE_GRACE_S
    assert probe_deadline(PROBES["ping"], ProbeConfig(ping_duration=0)) is None
    assert probe_deadline(PROBES["trace"], ProbeConfig(timeout=2, trace_duration=10)) == 13.0
    assert probe_deadline(PROBES["tcp"], ProbeConfig(ping_duration=0)) == 5 + DEADLINE_GRACE_S


def _hop(ttl: int, loss: float, status: str = "ok", addr: str = "") -> Hop:
    sent = 20
    received = round(sent * (100 - loss) / 100)
    responders = (Responder(addr or f"10.0.{ttl}.1", received),) if received else ()
    return Hop(ttl, status, responders, sent, received, loss, 0.001, 0.001, 0.001, 0.001, 0.0)


def _trace(*hops: Hop) -> ProbeResult:
    data = TraceData("10.0.9.9", "icmp", 0, "raw-icmp", True, "", 20, True, 0, "", hops)
    return ProbeResult("trace", Status.OK, 1.0, "", data)


def _ping(loss: float) -> ProbeResult:
    stats = RunningStats()
    for i in range(100):
        stats.add(None if i < loss else 0.001)
    host = PingHost("10.0.9.9", 4, "raw-icmp", stats.snapshot(), ())
    return ProbeResult("ping", Status.OK, 1.0, "", PingData("raw-icmp", True, "", 0.2, 84, (host,)))


def test_rate_limited_hop_is_not_loss() -> None:
    target = parse_target("10.0.9.9:80")
    trace = _trace(_hop(1, 0), _hop(2, 60), _hop(3, 0), _hop(4, 0, "destination", "10.0.9.9"))
    diagnosis = diagnose(target, {"trace": trace, "ping": _ping(0)})
    found = {f.id for f in diagnosis.findings}
    assert "path.loss" not in found and "path.icmp_limited" in found
    assert diagnosis.verdict == "ok"


def test_loss_that_carries_to_the_end_names_where_it_starts() -> None:
    target = parse_target("10.0.9.9:80")
    trace = _trace(
        _hop(1, 0), _hop(2, 100, "silent"), _hop(3, 25), _hop(4, 20, "destination", "10.0.9.9")
    )
    diagnosis = diagnose(target, {"trace": trace, "ping": _ping(20)})
    loss = next(f for f in diagnosis.findings if f.id == "path.loss")
    assert "starting at hop 3 (10.0.3.1)" in loss.title
    assert diagnosis.verdict == "path.loss"


def _live(result: ProbeResult) -> ProbeResult:
    """*result* as a live run's rules read it: a rolling window of 60 rounds."""
    return dataclasses.replace(result, data=dataclasses.replace(result.data, window=60))


def test_live_loss_title_leaves_the_moving_figure_to_the_evidence() -> None:
    target = parse_target("10.0.9.9:80")
    trace = _trace(_hop(1, 0), _hop(2, 0), _hop(3, 12), _hop(4, 10, "destination", "10.0.9.9"))
    checked = diagnose(target, {"trace": trace, "ping": _ping(12)})
    live = diagnose(target, {"trace": _live(trace), "ping": _live(_ping(12))})
    check_loss = next(f for f in checked.findings if f.id == "path.loss")
    live_loss = next(f for f in live.findings if f.id == "path.loss")
    assert check_loss.title == "12% packet loss to 10.0.9.9, starting at hop 3 (10.0.3.1)"
    assert live_loss.title == "packet loss to 10.0.9.9, starting at hop 3 (10.0.3.1)"
    assert live_loss.evidence[0] == "12% loss to 10.0.9.9 over the last 100 pings"
    assert live.verdict == "path.loss"


def test_live_loss_carries_on_at_half_the_threshold() -> None:
    # Random loss from hop 3 on: hop 4's window happens to hold 4% (below the 5%
    # threshold).  A bounded check reads it as it is; a live run must not move
    # "starting at hop N" or call hop 3 rate-limited with each lost packet.
    target = parse_target("10.0.9.9:80")
    trace = _trace(
        _hop(1, 0), _hop(2, 0), _hop(3, 12), _hop(4, 4), _hop(5, 10, "destination", "10.0.9.9")
    )
    checked = diagnose(target, {"trace": trace, "ping": _ping(10)})
    live = diagnose(target, {"trace": _live(trace), "ping": _live(_ping(10))})
    check_loss = next(f for f in checked.findings if f.id == "path.loss")
    live_loss = next(f for f in live.findings if f.id == "path.loss")
    assert "starting at hop 5" in check_loss.title
    assert "path.icmp_limited" in {f.id for f in checked.findings}
    assert "starting at hop 3 (10.0.3.1)" in live_loss.title
    assert "path.icmp_limited" not in {f.id for f in live.findings}
    # A hop that really stops the loss is still rate limiting, live too.
    limited = _trace(_hop(1, 0), _hop(2, 60), _hop(3, 0), _hop(4, 0, "destination", "10.0.9.9"))
    live = diagnose(target, {"trace": _live(limited), "ping": _live(_ping(0))})
    assert "path.icmp_limited" in {f.id for f in live.findings}


def test_unprivileged_fallbacks_on_loopback() -> None:
    # Forced fallbacks (as if unprivileged) against loopback only: UDP trace
    # reaches 127.0.0.1 at hop 1 and ping works one way or another.
    config = ProbeConfig(timeout=0.6, path_mode="unprivileged")
    run = Run(parse_target("127.0.0.1:9"), plan=("ping", "trace", "mtu"), config=config)
    asyncio.run(asyncio.wait_for(run_to_end(run), 10))
    assert set(run.results) == {"ping", "trace", "mtu"}
    assert all(r.status is not Status.ERROR for r in run.results.values()), run.results
    trace = run.results["trace"].data
    assert isinstance(trace, TraceData) and trace.reached and trace.mode == "udp-recverr"
    assert [h.address for h in trace.hops] == ["127.0.0.1"]
    assert "privilege.no_raw_socket" in {f.id for f in run.diagnosis.findings}


def test_context_shares_one_object_and_closes_it() -> None:
    closed: list[int] = []

    class Thing:
        def close(self) -> None:
            closed.append(1)

    async def main() -> None:
        ctx = ProbeContext(parse_target("10.0.0.1:1"))
        made: list[int] = []

        async def make() -> Thing:
            made.append(1)
            await asyncio.sleep(0)
            return Thing()

        a, b = await asyncio.gather(ctx.shared("x", make), ctx.shared("x", make))
        assert a is b and made == [1]
        ctx.close()

    asyncio.run(main())
    assert closed == [1]


def test_ping_until_cancelled_streams_and_stops_cleanly() -> None:
    # duration 0: no deadline; the face decides when to stop (loopback only).
    config = ProbeConfig(timeout=1, ping_duration=0, ping_interval=0.02)
    run = Run(parse_target("127.0.0.1:9"), plan=("ping",), config=config)

    async def main() -> int:
        updates = 0
        events = cast(AsyncGenerator[Event, None], run.events())
        async for event in events:
            if isinstance(event, ProbeUpdate):
                updates += 1
                assert not event.result.final
            if updates >= 5:
                break
        await events.aclose()  # cancels the probe and waits for it to unwind
        assert [t for t in asyncio.all_tasks() if t.get_name().startswith("probe:")] == []
        return updates

    assert asyncio.run(asyncio.wait_for(main(), 10)) == 5
    result = run.results["ping"]
    assert isinstance(result.data, PingData) and result.data.hosts[0].stats.received > 0


def test_live_loss_that_was_raised_clears_below_half_the_threshold() -> None:
    """Random 5-10% loss holds a window under 5% now and then: a raised path.loss must
    not clear and raise again with each such window (hysteresis), only below 2.5%."""
    target = parse_target("10.0.9.9:80")
    ping = _live(_ping(4))  # 4 of the last 100 lost: under the 5% that raises it
    assert "path.loss" not in {f.id for f in diagnose(target, {"ping": ping}).findings}
    standing = {"path.loss": Severity.WARNING}
    kept = diagnose(target, {"ping": ping}, standing=standing)
    assert kept.verdict == "path.loss"
    gone = diagnose(target, {"ping": _live(_ping(2))}, standing=standing)
    assert "path.loss" not in {f.id for f in gone.findings}
    # An error (50% or more) stays an error down to 40%, then is a warning.
    error = {"path.loss": Severity.ERROR}
    assert _severity(diagnose(target, {"ping": _live(_ping(45))})) is Severity.WARNING
    assert _severity(diagnose(target, {"ping": _live(_ping(45))}, standing=error)) is Severity.ERROR
    assert (
        _severity(diagnose(target, {"ping": _live(_ping(35))}, standing=error)) is Severity.WARNING
    )


def _severity(diagnosis: Diagnosis) -> Severity:
    return next(f.severity for f in diagnosis.findings if f.id == "path.loss")
