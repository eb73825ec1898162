"""Proxy, WebSocket upgrade and CORS preflight verdicts against loopback servers."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from probes.proto.proxy import ProxyData
from probes.proto.ws import WsData
from tests.probe_helpers import evidence, run
from tests.servers import httpserver as H
from tests.servers.base import ServerThread, http_ok

ORIGIN = "https://app.example"


@pytest.fixture(scope="module")
def ports() -> Iterator[dict[str, int]]:
    st = ServerThread()
    handlers = {
        "ok": http_ok,
        "proxy": H.proxy("alice", "proxy-pw"),
        "ws": H.websocket,
        "ws400": H.status(400, "Bad Request"),
        "ws426": H.status(426, "Upgrade Required", {"Upgrade": "websocket"}),
        "cors_strict": H.cors("https://only.example", "GET"),
        "cors_ok": H.cors(ORIGIN, "GET, PUT", "x-api-key"),
    }
    yield {name: st.serve(h) for name, h in handlers.items()}
    st.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_proxy_auth_required_shows_realm(ports: dict[str, int]) -> None:
    env = (("http_proxy", f"http://127.0.0.1:{ports['proxy']}"), ("NO_PROXY", "internal.example"))
    the_run, diagnosis = run(f"http://127.0.0.1:{ports['ok']}/", ("proxy",), "proxy", proxy_env=env)
    assert diagnosis.verdict == "proxy.auth_required"
    text = evidence(diagnosis, "proxy.auth_required")
    assert 'Basic realm="lab-proxy"' in text and "no credentials were sent" in text
    data = the_run.results["proxy"].data
    assert isinstance(data, ProxyData) and data.direct_state == "open"
    assert ("NO_PROXY", "internal.example") in data.settings


def test_https_through_proxy_uses_connect(ports: dict[str, int]) -> None:
    env = (("HTTPS_PROXY", f"http://127.0.0.1:{ports['proxy']}"),)
    the_run, diagnosis = run(
        f"https://127.0.0.1:{ports['ok']}/", ("proxy",), "proxy", proxy_env=env
    )
    assert diagnosis.verdict == "proxy.auth_required"
    data = the_run.results["proxy"].data
    assert (
        isinstance(data, ProxyData) and data.method == "CONNECT" and data.variable == "HTTPS_PROXY"
    )


def test_proxy_with_credentials_works_and_hides_password(ports: dict[str, int]) -> None:
    env = (("HTTP_PROXY", f"http://alice:proxy-pw@127.0.0.1:{ports['proxy']}"),)
    the_run, diagnosis = run(f"http://127.0.0.1:{ports['ok']}/", ("proxy",), "proxy", proxy_env=env)
    assert diagnosis.verdict == "ok"
    data = the_run.results["proxy"].data
    assert isinstance(data, ProxyData) and data.state == "ok" and data.via == "1.1 lab-proxy"
    assert "proxy-pw" not in repr(the_run.results) and "proxy-pw" not in repr(diagnosis)


def test_proxy_unreachable(ports: dict[str, int]) -> None:
    env = (("http_proxy", f"http://127.0.0.1:{free_port()}"),)
    _, diagnosis = run(f"http://127.0.0.1:{ports['ok']}/", ("proxy",), "proxy", proxy_env=env)
    assert diagnosis.verdict == "proxy.unreachable"
    assert "direct connection to 127.0.0.1" in evidence(diagnosis, "proxy.unreachable")


def test_no_proxy_bypasses_the_target(ports: dict[str, int]) -> None:
    env = (("http_proxy", "http://127.0.0.1:9"), ("no_proxy", "localhost,127.0.0.0/8"))
    the_run, diagnosis = run(f"http://127.0.0.1:{ports['ok']}/", ("proxy",), "proxy", proxy_env=env)
    assert diagnosis.verdict == "ok"
    data = the_run.results["proxy"].data
    assert isinstance(data, ProxyData) and data.bypassed_by == "127.0.0.0/8"


def test_websocket_upgrade_ok(ports: dict[str, int]) -> None:
    the_run, diagnosis = run(f"ws://127.0.0.1:{ports['ws']}/socket", ("ws",), "websocket")
    assert diagnosis.verdict == "ok"
    data = the_run.results["ws"].data
    assert isinstance(data, WsData) and data.state == "ok" and data.status == 101


@pytest.mark.parametrize(("server", "needle"), [("ws400", "400"), ("ws426", "426")])
def test_websocket_upgrade_rejected(ports: dict[str, int], server: str, needle: str) -> None:
    _, diagnosis = run(f"http://127.0.0.1:{ports[server]}/socket", ("ws",), "websocket")
    assert diagnosis.verdict == "ws.upgrade_rejected"
    text = evidence(diagnosis, "ws.upgrade_rejected")
    assert needle in text and "likely cause" in text and "Upgrade" in text


def test_cors_preflight_rejected_names_what_is_missing(ports: dict[str, int]) -> None:
    _, diagnosis = run(
        f"http://127.0.0.1:{ports['cors_strict']}/api",
        ("cors",),
        "cors",
        origin=ORIGIN,
        cors_method="PUT",
        headers=(("X-Api-Key", "k-value"),),
    )
    assert diagnosis.verdict == "cors.preflight_rejected"
    text = evidence(diagnosis, "cors.preflight_rejected")
    assert "Access-Control-Allow-Origin is missing" in text
    assert "Access-Control-Allow-Methods does not include PUT" in text
    assert "Access-Control-Allow-Headers does not include x-api-key" in text
    assert "k-value" not in text


def test_cors_preflight_allowed(ports: dict[str, int]) -> None:
    _, diagnosis = run(
        f"http://127.0.0.1:{ports['cors_ok']}/api",
        ("cors",),
        "cors",
        origin=ORIGIN,
        cors_method="PUT",
        headers=(("X-Api-Key", "k-value"),),
    )
    assert diagnosis.verdict == "ok"
    assert "is allowed" in evidence(diagnosis, "cors.ok")


def test_proxy_password_without_scheme_is_hidden(ports: dict[str, int]) -> None:
    env = (("http_proxy", f"dave:hunter2-pw@127.0.0.1:{ports['proxy']}"),)
    the_run, diagnosis = run(f"http://127.0.0.1:{ports['ok']}/", ("proxy",), "proxy", proxy_env=env)
    assert diagnosis.verdict == "proxy.auth_required"
    assert "credentials were sent and rejected" in evidence(diagnosis, "proxy.auth_required")
    assert "hunter2-pw" not in repr(the_run.results) and "hunter2-pw" not in repr(diagnosis)
