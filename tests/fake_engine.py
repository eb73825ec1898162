"""A deterministic fake network for tests, screenshots and benchmarks.

Probe overrides (the runner's ``probe_overrides`` seam) that return fixed,
typed results instead of touching the network.  The diagnosis is the real
engine's, computed from these results.  ``FakeNetwork.listening`` is the knob a
test turns to "fix" the problem before a retest.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from probes.core.context import ProbeContext
from probes.core.model import ProbeError, ProbeResult, Status
from probes.host.local import Listener, LocalData, PortLoad, StateCount, TargetView
from probes.host.procinfo import ProcessInfo
from probes.host.system import Limits, MemoryInfo, OomReport
from probes.net.dns import DnsData, ResolverAnswer, SystemAnswer
from probes.net.tcp import OPEN, REFUSED, TcpAttempt, TcpData
from probes.path.mtu import MtuData, MtuProbe
from probes.path.pathstats import RttStats
from probes.path.ping import PingData, PingHost, PingSample
from probes.path.route import RouteData, RouteInfo
from probes.path.trace import Hop, Responder, TraceData
from probes.proto.certs import CertInfo
from probes.proto.http import HttpData, HttpHop, HttpTimings
from probes.proto.tls import TlsData
from probes.run.plans import ProbeFn

ADDRESS = "192.0.2.10"


@dataclass
class FakeNetwork:
    listening: bool = False
    address: str = ADDRESS
    nxdomain: bool = False
    live_rounds: int = 0  # ping/trace rounds to stream (0: one final result)
    live_interval_s: float = 0.0
    calls: list[str] = field(default_factory=list)

    def overrides(self) -> dict[str, ProbeFn]:
        return {
            "dns": self.dns,
            "route": self.route,
            "tcp": self.tcp,
            "ping": self.ping,
            "trace": self.trace,
            "tls": self.tls,
            "local": self.local,
            "mtu": self.mtu,
            "http": self.http,
        }

    def _addr(self, ctx: ProbeContext) -> str:
        return ctx.target.host if ctx.target.is_ip else self.address

    async def dns(self, ctx: ProbeContext) -> AsyncIterator[ProbeResult]:
        self.calls.append("dns")
        target = ctx.target
        if target.is_ip:
            yield ProbeResult(
                "dns", Status.SKIPPED, 0.0, f"{target.host} is an address: nothing to resolve"
            )
            return
        rcode = "NXDOMAIN" if self.nxdomain else "NOERROR"
        addrs = () if self.nxdomain else (self.address,)
        answers = tuple(
            ResolverAnswer(
                server,
                rdtype,
                target.host + ".",
                (target.host + ".",),
                rcode,
                addrs if rdtype == "A" else (),
                elapsed_s=0.0042,
            )
            for server in ("10.0.0.53", "10.0.1.53")
            for rdtype in ("A", "AAAA")
        )
        error = ProbeError("EAI_NONAME", "Name or service not known") if self.nxdomain else None
        data = DnsData(
            target.host,
            ("10.0.0.53", "10.0.1.53"),
            ("corp.example",),
            1,
            SystemAnswer(addrs, 0.0051, error),
            (),
            answers,
        )
        if self.nxdomain:
            yield ProbeResult(
                "dns",
                Status.FAILED,
                0.012,
                f"{target.host}: Name or service not known",
                data,
                error,
            )
        else:
            yield ProbeResult("dns", Status.OK, 0.012, f"{target.host} → {self.address}", data)

    async def route(self, ctx: ProbeContext) -> AsyncIterator[ProbeResult]:
        self.calls.append("route")
        if self.nxdomain and not ctx.target.is_ip:
            yield ProbeResult("route", Status.SKIPPED, 0.0, "no address to route to")
            return
        addr = self._addr(ctx)
        info = RouteInfo(addr, True, "192.0.2.1", "192.0.2.254", "eth0", "unicast")
        yield ProbeResult("route", Status.OK, 0.003, addr, RouteData((info,)))

    async def tcp(self, ctx: ProbeContext) -> AsyncIterator[ProbeResult]:
        self.calls.append("tcp")
        if self.nxdomain and not ctx.target.is_ip:
            yield ProbeResult(
                "tcp", Status.SKIPPED, 0.0, "no address to connect to (name did not resolve)"
            )
            return
        addr, port = self._addr(ctx), ctx.target.port
        if self.listening:
            attempt = TcpAttempt(
                addr,
                4,
                port,
                OPEN,
                0.0008,
                banner="SSH-2.0-OpenSSH_9.6\x1b[31m[b]x[/b]",
                protocol="ssh",
            )
            yield ProbeResult(
                "tcp", Status.OK, 0.0009, f"{addr}:{port} open", TcpData(port, (attempt,))
            )
            return
        attempt = TcpAttempt(
            addr,
            4,
            port,
            REFUSED,
            0.0006,
            "ECONNREFUSED",
            f"{addr} answered the SYN with a reset: nothing accepts connections on port {port}",
        )
        err = ProbeError("ECONNREFUSED", attempt.explanation, "", 0.0006)
        yield ProbeResult(
            "tcp", Status.FAILED, 0.0007, f"{addr}:{port} refused", TcpData(port, (attempt,)), err
        )

    async def mtu(self, ctx: ProbeContext) -> AsyncIterator[ProbeResult]:
        self.calls.append("mtu")
        addr = self._addr(ctx)
        probes = tuple(
            MtuProbe(size, "reply" if size <= 1400 else "timeout", addr if size <= 1400 else "")
            for size in (576, 1200, 1400, 1450, 1472, 1500)
        )
        data = MtuData(
            addr,
            "raw-icmp",
            True,
            "",
            1500,
            1400,
            1450,
            "",
            0,
            True,
            3,
            probes,
            "packets up to 1400 bytes pass; 1450 and larger vanish without an ICMP answer",
        )
        yield ProbeResult("mtu", Status.FAILED, 2.1, "path MTU 1400: black hole above", data)

    async def local(self, ctx: ProbeContext) -> AsyncIterator[ProbeResult]:
        self.calls.append("local")
        port = ctx.target.port
        listeners = (
            Listener("tcp", 4, "127.0.0.1", port, 129, 128, 70, (812,), "postgres"),
            Listener("tcp", 6, "::1", port, 0, 128, 70, (812,), "postgres"),
            Listener("udp", 4, "0.0.0.0", port, 0, -1, 0, ()),
        )
        states = (StateCount("ESTABLISHED", 96), StateCount("SYN_RECV", 31))
        view = TargetView(
            (self.address,),
            port,
            True,
            (self.address,),
            listeners,
            (),
            (self.address,),
            PortLoad(port, 127, states, ()),
            (),
            (),
            (),
            (),
            service="postgresql",
        )
        proc = ProcessInfo(812, "postgres", "postgres", "postgres -D /var/lib/pg", 1010, 1024)
        data = LocalData(
            "netlink",
            True,
            0,
            False,
            view,
            listeners,
            3,
            (proc,),
            412,
            (
                StateCount("ESTABLISHED", 301),
                StateCount("TIME_WAIT", 80),
                StateCount("CLOSE_WAIT", 31),
            ),
            (),
            (),
            Limits(9000, 9223372036854775807, 32768, 60999, 0, 2, 4096),
            MemoryInfo(16_000_000, 9_000_000, 0, 0),
            {},
            OomReport(True, "/dev/kmsg", (), 0),
            (),
            "db1",
            0.004,
        )
        yield ProbeResult(
            "local", Status.OK, 0.005, f"postgres[812] listens on 127.0.0.1:{port}", data
        )

    async def tls(self, ctx: ProbeContext) -> AsyncIterator[ProbeResult]:
        self.calls.append("tls")
        host, port = ctx.target.host, ctx.target.port
        leaf = _cert(host, "Example Issuing CA 1", -3, ("DNS:" + host, "DNS:www." + host))
        inter = _cert("Example Issuing CA 1", "Example Root CA", 412, (), ca=True)
        data = TlsData(
            self._addr(ctx),
            port,
            host,
            "",
            "failed",
            failure="tls.expired",
            detail="certificate has expired",
            verify_code=10,
            verify_message="certificate has expired",
            protocol="TLSv1.3",
            cipher="TLS_AES_256_GCM_SHA384",
            alpn="h2",
            chain=(leaf, inter),
            handshake_s=0.0123,
        )
        err = ProbeError("CERT_HAS_EXPIRED", "the server's certificate expired 3 days ago")
        yield ProbeResult("tls", Status.FAILED, 0.013, f"{host}: certificate expired", data, err)

    async def http(self, ctx: ProbeContext) -> AsyncIterator[ProbeResult]:
        self.calls.append("http")
        host = ctx.target.host
        url = f"https://{host}{ctx.target.path or '/'}"
        hops = (
            HttpHop(f"http://{host}/", 301, "Moved Permanently", "HTTP/1.1", url),
            HttpHop(url, 200, "OK", "HTTP/2"),
        )
        data = HttpData(
            url,
            "GET",
            "ok",
            200,
            "OK",
            "HTTP/2",
            headers=(
                ("server", "nginx\x1b[31m[b]x[/b]"),
                ("content-type", "application/json"),
                ("cache-control", "no-store"),
            ),
            hops=hops,
            timings=HttpTimings(0.004, 0.011, 0.031, 0.092, 0.118),
            body_bytes=512,
        )
        yield ProbeResult("http", Status.OK, 0.12, "200 OK in 118 ms", data)

    async def ping(self, ctx: ProbeContext) -> AsyncIterator[ProbeResult]:
        addr = self._addr(ctx)
        rounds = max(1, self.live_rounds)
        for n in range(1, rounds + 1):
            rtts = tuple(
                None if i % 7 == 3 else (10.0 + (i * 37 % 11) / 2) / 1000
                for i in range(min(n + 19, 200))
            )
            got = [r for r in rtts if r is not None]
            avg = sum(got) / len(got)
            stats = RttStats(
                sent=len(rtts),
                received=len(got),
                loss_pct=100.0 * (len(rtts) - len(got)) / len(rtts),
                last_s=got[-1],
                min_s=min(got),
                avg_s=avg,
                max_s=max(got),
                mdev_s=(sum(r * r for r in got) / len(got) - avg * avg) ** 0.5,
                jitter_s=0.0021,
            )
            recent = tuple(
                PingSample(i, "timeout" if r is None else "reply", r, "" if r is None else addr)
                for i, r in enumerate(rtts[-60:], start=max(0, len(rtts) - 60))
            )
            host = PingHost(addr, 4, "icmp-dgram", stats, recent, median_s=0.0125)
            data = PingData(
                "icmp-dgram",
                False,
                "run as root or grant CAP_NET_RAW for raw ICMP",
                0.2,
                64,
                (host,),
            )
            final = n == rounds
            yield ProbeResult(
                "ping",
                Status.OK,
                0.5 * n,
                f"{len(got)}/{len(rtts)} replies",
                data,
                final=final,
            )
            if not final and self.live_interval_s:
                await asyncio.sleep(self.live_interval_s)

    async def trace(self, ctx: ProbeContext) -> AsyncIterator[ProbeResult]:
        addr = self._addr(ctx)
        rounds = max(1, self.live_rounds)
        for n in range(1, rounds + 1):
            hops = []
            sent = n + 9
            for ttl in range(1, 9):
                silent = ttl == 4
                base = (0.4 + ttl * 1.3) / 1000
                received = 0 if silent else sent - (1 if ttl == 5 else 0)
                who = addr if ttl == 8 else f"10.{ttl}.0.1"
                hops.append(
                    Hop(
                        ttl,
                        "silent" if silent else ("destination" if ttl == 8 else "ok"),
                        () if silent else (Responder(who, received),),
                        sent,
                        received,
                        100.0 * (sent - received) / sent,
                        None if silent else base + (n * ttl % 5) / 10000,
                        None if silent else base + 0.0002,
                        None if silent else base - 0.0001,
                        None if silent else base + 0.0015,
                        None if silent else 0.0003,
                    )
                )
            final = n == rounds
            data = TraceData(
                addr, "udp", 33434, "udp-recverr", False, "", sent, True, 0, "", tuple(hops)
            )
            yield ProbeResult(
                "trace",
                Status.OK,
                0.5 * n,
                f"8 hops to {addr} (round {sent})",
                data,
                final=final,
            )
            if not final and self.live_interval_s:
                await asyncio.sleep(self.live_interval_s)


def _cert(name: str, issuer: str, days: int, sans: tuple[str, ...], ca: bool = False) -> CertInfo:
    return CertInfo(
        f"CN={name}",
        f"CN={issuer}",
        name,
        sans,
        "2025-11-20T00:00:00Z",
        "2026-11-20T00:00:00Z",
        days,
        "EC secp256r1",
        "ecdsa-with-SHA256",
        "AB:CD:EF",
        ca,
        name == issuer,
    )
