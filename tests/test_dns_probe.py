"""The DNS probe against real DNS servers on loopback (UDP and TCP)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from probes.core.context import ProbeConfig, Resolution
from probes.core.model import ProbeError, Status
from probes.core.target import Target, parse_target
from probes.diagnosis import diagnose
from probes.net.dns import DnsData, search_candidates
from probes.net.resolvconf import parse_hosts, parse_resolv_conf
from probes.run.runner import Run, run_to_end
from tests.lab.dnsserver import DnsServer

ZONE: dict[str, dict[str, Any]] = {
    "api.corp.test.": {"A": ["192.0.2.10"], "AAAA": ["2001:db8::10"]},
    "www.corp.test.": {"CNAME": "api.corp.test."},
    "big.test.": {"A": ["192.0.2.20"], "truncate": True},
    "blocked.test.": {"A": ["192.0.2.21"], "truncate": True, "tcp": False},
    "refused.test.": {"rcode": "REFUSED"},
    "mx-only.test.": {"MX": ["10 mail.test."]},
}


@pytest.fixture
async def servers() -> AsyncIterator[tuple[DnsServer, DnsServer]]:
    first = await DnsServer(ZONE, "127.0.0.1").start()
    second = await DnsServer(
        {**ZONE, "api.corp.test.": {"A": ["192.0.2.99"]}}, "127.0.0.2", first.port
    ).start()
    yield first, second
    await first.stop()
    await second.stop()


def make_config(tmp_path: Path, port: int, resolv: str) -> ProbeConfig:
    (tmp_path / "resolv.conf").write_text(resolv)
    (tmp_path / "hosts").write_text("127.0.0.1 localhost\n")
    return ProbeConfig(
        timeout=2.0,
        resolv_conf=str(tmp_path / "resolv.conf"),
        hosts_file=str(tmp_path / "hosts"),
        dns_port=port,
    )


def fake_resolver(addresses: tuple[str, ...], error: str = ""):  # type: ignore[no-untyped-def]
    async def resolve(target: Target, deadline: float) -> Resolution:
        err = ProbeError(error, "fake getaddrinfo failure") if error else None
        return Resolution(addresses, 0.001, err)

    return resolve


async def run_dns(
    config: ProbeConfig, text: str, addresses: tuple[str, ...] = (), error: str = "EAI_NONAME"
) -> Run:
    run = Run(
        parse_target(text),
        "dns",
        config,
        plan=("dns",),
        system_resolver=fake_resolver(addresses, "" if addresses else error),
    )
    await run_to_end(run)
    return run


async def test_search_domain_and_cname(
    tmp_path: Path, servers: tuple[DnsServer, DnsServer]
) -> None:
    config = make_config(tmp_path, servers[0].port, "nameserver 127.0.0.1\nsearch corp.test\n")
    run = await run_dns(config, "www:443", ("192.0.2.10",))
    data = run.results["dns"].data
    assert isinstance(data, DnsData)
    a = data.answers("A")[0]
    assert a.qname == "www.corp.test."
    assert a.tried == ("www.corp.test.",)
    assert a.cname_chain == ("api.corp.test.",)
    assert a.addresses == ("192.0.2.10",)
    assert a.elapsed_s > 0


async def test_truncated_answer_is_retried_over_tcp(
    tmp_path: Path, servers: tuple[DnsServer, DnsServer]
) -> None:
    config = make_config(tmp_path, servers[0].port, "nameserver 127.0.0.1\n")
    run = await run_dns(config, "big.test:80", ("192.0.2.20",))
    a = run.results["dns"].data.answers("A")[0]
    assert (a.truncated, a.tcp_retry, a.rcode, a.addresses) == (
        True,
        "ok",
        "NOERROR",
        ("192.0.2.20",),
    )
    assert run.diagnosis.verdict == "ok"


async def test_tcp_blocked(tmp_path: Path, servers: tuple[DnsServer, DnsServer]) -> None:
    config = make_config(tmp_path, servers[0].port, "nameserver 127.0.0.1\n")
    run = await run_dns(config, "blocked.test:80", error="EAI_AGAIN")
    a = run.results["dns"].data.answers("A")[0]
    assert a.rcode == "TRUNCATED" and a.truncated
    assert "TCP" in a.tcp_retry or "no answer" in a.tcp_retry
    assert run.diagnosis.verdict == "dns.tcp_blocked"


async def test_refused_rcode_is_read_not_folded(
    tmp_path: Path, servers: tuple[DnsServer, DnsServer]
) -> None:
    config = make_config(tmp_path, servers[0].port, "nameserver 127.0.0.1\n")
    run = await run_dns(config, "refused.test:80", error="EAI_AGAIN")
    assert {a.rcode for a in run.results["dns"].data.resolvers} == {"REFUSED"}
    assert run.diagnosis.verdict == "dns.refused"
    steps = run.diagnosis.findings[0].next_steps
    assert any(s.command == "dig @127.0.0.1 refused.test A" for s in steps)


async def test_nodata_is_not_nxdomain(tmp_path: Path, servers: tuple[DnsServer, DnsServer]) -> None:
    config = make_config(tmp_path, servers[0].port, "nameserver 127.0.0.1\n")
    run = await run_dns(config, "mx-only.test:25", error="EAI_NODATA")
    assert {a.rcode for a in run.results["dns"].data.resolvers} == {"NOERROR"}
    assert run.diagnosis.verdict == "dns.nodata"


async def test_resolvers_disagree_on_loopback(
    tmp_path: Path, servers: tuple[DnsServer, DnsServer]
) -> None:
    config = make_config(tmp_path, servers[0].port, "nameserver 127.0.0.1\nnameserver 127.0.0.2\n")
    run = await run_dns(config, "api.corp.test:443", ("192.0.2.10",))
    ids = [f.id for f in run.diagnosis.findings]
    assert "dns.resolvers_disagree" in ids


async def test_ip_target_skips_dns(tmp_path: Path) -> None:
    config = make_config(tmp_path, 53, "nameserver 127.0.0.1\n")
    run = await run_dns(config, "192.0.2.1:80", ("192.0.2.1",))
    assert run.results["dns"].status is Status.SKIPPED


def test_search_order_follows_ndots() -> None:
    conf = parse_resolv_conf("search a.test b.test\noptions ndots:2\n")
    assert search_candidates("db", conf) == ("db.a.test.", "db.b.test.", "db.")
    assert search_candidates("x.y.z", conf) == ("x.y.z.", "x.y.z.a.test.", "x.y.z.b.test.")
    assert search_candidates("db.", conf) == ("db.",)


def test_resolv_conf_parsing() -> None:
    conf = parse_resolv_conf(
        "# comment\nnameserver 10.0.0.1\nnameserver bogus\nnameserver fe80::1%eth0\n"
        "nameserver 10.0.0.3\nnameserver 10.0.0.4\noptions timeout:2 attempts:3 ndots:5\n"
    )
    assert conf.nameservers == ("10.0.0.1", "fe80::1%eth0", "10.0.0.3")
    assert (conf.timeout, conf.attempts, conf.ndots) == (2.0, 3, 5)


def test_hosts_parsing() -> None:
    table = parse_hosts(
        "127.0.0.1 localhost\n10.0.0.5 Api.Lab api # old\nnot-an-ip foo\n10.0.0.6 api.lab\n"
    )
    assert table["api.lab"] == ("10.0.0.5", "10.0.0.6")
    assert "foo" not in table


def test_diagnose_without_results_is_ok() -> None:
    assert diagnose(parse_target("x.test:1"), {}).verdict == "ok"
