"""The HTTP probe goes through the environment's proxy exactly when a client would."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from probes.core.context import ProbeConfig, Resolution
from probes.core.model import ProbeError, Severity
from probes.core.target import Target, parse_target
from probes.proto.http import HttpData
from probes.proto.proxy import no_proxy_match, proxy_for
from probes.run.runner import Run, run_to_end
from tests.lab.dnsserver import DnsServer
from tests.probe_helpers import evidence, finding, run
from tests.servers.base import ServerThread, http_ok
from tests.servers.pki import Pki
from tests.servers.proxyserver import forward_proxy
from tests.servers.services import free_port
from tests.servers.tlsserver import TlsServer

PROXY_ONLY = "site.proxied.test"  # resolvable only by the proxy


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return Pki(Path(tmp_path_factory.mktemp("proxy-pki")))


@pytest.fixture(scope="module")
def ports(pki: Pki) -> Iterator[dict[str, int]]:
    st = ServerThread()
    tls = TlsServer(pki.server_context(pki.leaf("localhost", "127.0.0.1", PROXY_ONLY)))
    out = {"site": st.serve(http_ok), "tls_site": tls.port}
    out["proxy"] = st.serve(forward_proxy({PROXY_ONLY: "127.0.0.1"}))
    out["auth_proxy"] = st.serve(forward_proxy(auth=("alice", "proxy-pw")))
    yield out
    tls.close()
    st.close()


def http_via(
    url: str, env: tuple[tuple[str, str], ...], **config: object
) -> tuple[HttpData, object]:
    the_run, diagnosis = run(url, ("http",), "auto", proxy_env=env, **config)
    data = the_run.results["http"].data
    assert isinstance(data, HttpData), the_run.results["http"]
    return data, diagnosis


def test_http_goes_through_the_proxy(ports: dict[str, int]) -> None:
    proxy = f"http://127.0.0.1:{ports['proxy']}"
    data, diagnosis = http_via(f"http://{PROXY_ONLY}:{ports['site']}/", (("http_proxy", proxy),))
    assert diagnosis.verdict == "ok"  # type: ignore[attr-defined]
    assert data.status == 200 and data.proxy == proxy and data.proxy_variable == "http_proxy"
    assert f"via proxy {proxy}" in evidence(diagnosis, "http.ok")  # type: ignore[arg-type]


def test_https_goes_through_connect(pki: Pki, ports: dict[str, int]) -> None:
    proxy = f"http://127.0.0.1:{ports['proxy']}"
    data, diagnosis = http_via(
        f"https://{PROXY_ONLY}:{ports['tls_site']}/",
        (("HTTPS_PROXY", proxy),),
        ca_file=str(pki.ca_file),
    )
    assert diagnosis.verdict == "ok", [f.id for f in diagnosis.findings]  # type: ignore[attr-defined]
    assert data.status == 200 and data.proxy == proxy and (data.timings.tls_s or 0) > 0


def test_dead_proxy_is_the_verdict_not_ok(ports: dict[str, int]) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    data, diagnosis = http_via(f"http://127.0.0.1:{ports['site']}/", (("http_proxy", dead),))
    assert data.state == "proxy_unreachable"
    assert diagnosis.verdict == "proxy.unreachable"  # type: ignore[attr-defined]
    assert f"via proxy {dead}" in evidence(diagnosis, "proxy.unreachable")  # type: ignore[arg-type]


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_proxy_wants_auth(ports: dict[str, int], scheme: str) -> None:
    proxy = f"http://127.0.0.1:{ports['auth_proxy']}"
    port = ports["site"] if scheme == "http" else ports["tls_site"]
    data, diagnosis = http_via(f"{scheme}://127.0.0.1:{port}/", (("all_proxy", proxy),))
    assert diagnosis.verdict == "proxy.auth_required", data  # type: ignore[attr-defined]
    assert 'Basic realm="lab"' in evidence(diagnosis, "proxy.auth_required") or scheme == "https"  # type: ignore[arg-type]


def test_proxy_credentials_are_used_and_never_shown(ports: dict[str, int]) -> None:
    proxy = f"http://alice:proxy-pw@127.0.0.1:{ports['auth_proxy']}"
    the_run, diagnosis = run(
        f"http://127.0.0.1:{ports['site']}/", ("http",), "auto", proxy_env=(("http_proxy", proxy),)
    )
    assert diagnosis.verdict == "ok"
    data = the_run.results["http"].data
    assert (
        isinstance(data, HttpData) and data.proxy == f"http://***@127.0.0.1:{ports['auth_proxy']}"
    )
    assert "proxy-pw" not in repr(the_run.results) and "proxy-pw" not in repr(diagnosis)


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_proxy_cannot_reach_the_site(ports: dict[str, int], scheme: str) -> None:
    proxy = f"http://127.0.0.1:{ports['proxy']}"
    data, diagnosis = http_via(
        f"{scheme}://127.0.0.1:{free_port()}/", (("http_proxy", proxy), ("https_proxy", proxy))
    )
    assert data.state == "proxy_upstream_failed"
    assert diagnosis.verdict == "proxy.upstream_failed"  # type: ignore[attr-defined]


def test_no_proxy_means_direct(ports: dict[str, int]) -> None:
    env = (("http_proxy", f"http://127.0.0.1:{free_port()}"), ("no_proxy", "127.0.0.0/8"))
    data, diagnosis = http_via(f"http://127.0.0.1:{ports['site']}/", env)
    assert diagnosis.verdict == "ok" and data.proxy == ""  # type: ignore[attr-defined]


def _nxdomain_run(url: str, env: tuple[tuple[str, str], ...], tmp_path: Path) -> Run:
    async def go() -> Run:
        dns = await DnsServer({}, "127.0.0.1").start()  # every name: NXDOMAIN
        try:
            (tmp_path / "resolv.conf").write_text("nameserver 127.0.0.1\n")
            (tmp_path / "hosts").write_text("127.0.0.1 localhost\n")
            config = ProbeConfig(
                timeout=3.0,
                resolv_conf=str(tmp_path / "resolv.conf"),
                hosts_file=str(tmp_path / "hosts"),
                dns_port=dns.port,
                proxy_env=env,
            )

            async def gai(target: Target, deadline: float) -> Resolution:
                return Resolution((), 0.001, ProbeError("EAI_NONAME", "unknown host"))

            the_run = Run(
                parse_target(url), "auto", config, plan=("dns", "http"), system_resolver=gai
            )
            await run_to_end(the_run)
            return the_run
        finally:
            await dns.stop()

    return asyncio.run(go())


def test_local_nxdomain_does_not_outrank_a_working_proxy(
    ports: dict[str, int], tmp_path: Path
) -> None:
    proxy = f"http://127.0.0.1:{ports['proxy']}"
    the_run = _nxdomain_run(
        f"http://{PROXY_ONLY}:{ports['site']}/", (("http_proxy", proxy),), tmp_path
    )
    diagnosis = the_run.diagnosis
    assert diagnosis.verdict == "ok", [(f.id, f.severity) for f in diagnosis.findings]
    nx = finding(diagnosis, "dns.nxdomain")
    assert nx.severity is Severity.INFO
    assert "resolves the name itself" in evidence(diagnosis, "dns.nxdomain")


def test_local_nxdomain_with_a_failing_proxy_names_the_proxy(tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    the_run = _nxdomain_run(f"http://{PROXY_ONLY}/", (("http_proxy", dead),), tmp_path)
    assert the_run.diagnosis.verdict == "proxy.unreachable"
    assert finding(the_run.diagnosis, "dns.nxdomain").severity is Severity.INFO


def test_local_nxdomain_without_proxy_is_still_the_verdict(tmp_path: Path) -> None:
    the_run = _nxdomain_run(f"http://{PROXY_ONLY}/", (), tmp_path)
    assert the_run.diagnosis.verdict == "dns.nxdomain"


@pytest.mark.parametrize(
    ("target", "no_proxy", "match"),
    [
        ("http://api.corp.example/", "*.corp.example", "*.corp.example"),
        ("http://api.corp.example./", "corp.example", "corp.example"),
        ("http://[::1]:8080/", "[::1]:8080", "[::1]:8080"),
        ("http://[::1]:8080/", "[::1]:9090", ""),
        ("http://[fd00::5]/", "fd00::/8", "fd00::/8"),
        ("http://10.1.2.3:8080/", "10.1.2.3:8080", "10.1.2.3:8080"),
        ("http://API.Corp.Example/", " other.example , CORP.example ", "corp.example"),
        ("http://x.example/", "", ""),
    ],
)
def test_no_proxy_forms(target: str, no_proxy: str, match: str) -> None:
    assert no_proxy_match(parse_target(target), {"no_proxy": no_proxy}) == match


def test_lowercase_no_proxy_wins_even_when_empty() -> None:
    env = {"http_proxy": "http://p:3128", "no_proxy": "", "NO_PROXY": "*"}
    assert proxy_for(parse_target("http://x.example/"), env) is not None
