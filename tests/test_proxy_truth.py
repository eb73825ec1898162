"""Proxy truths: a 407 says how to pass the credentials whichever probe met it first,
and HTTPS_PROXY=https:// to a plain HTTP proxy names the scheme at once."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.servers.base import ServerThread, server_thread
from tests.servers.proxyserver import forward_proxy
from tests.truth_helpers import check, expect


@pytest.fixture(scope="module")
def st() -> Iterator[ServerThread]:
    with server_thread() as s:
        yield s


@pytest.mark.parametrize("scheme", ["https", "http"])
def test_407_says_how_to_pass_proxy_credentials(
    st: ServerThread,
    closed_port: int,
    scheme: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    port = st.serve(forward_proxy(auth=("alice", "pw")))
    variable = f"{scheme.upper()}_PROXY"
    code, doc = check(
        capsys,
        monkeypatch,
        f"{scheme}://127.0.0.1:{closed_port}/",
        env={variable: f"http://127.0.0.1:{port}"},
    )
    f = expect(code, doc, "proxy.auth_required", "error", 1, port=port)
    texts = " ".join(s["text"] for s in f["next_steps"])
    assert f"USER:PASSWORD@ before 127.0.0.1:{port}" in texts and "percent-encode" in texts
    assert any("--proxy-user USER" in (s.get("command") or "") for s in f["next_steps"])


def test_https_proxy_url_to_a_plain_proxy_names_the_scheme(
    st: ServerThread,
    closed_port: int,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    port = st.serve(forward_proxy())
    code, doc = check(
        capsys,
        monkeypatch,
        f"https://127.0.0.1:{closed_port}/",
        env={"HTTPS_PROXY": f"https://127.0.0.1:{port}"},
    )
    f = expect(code, doc, "proxy.failed", "error", 1, port=port)
    text = " ".join([f["title"], *f["evidence"]])
    assert "speaks plain HTTP" in text and "write http://" in text
    # The HTTP request does not wait for a TLS handshake with the proxy: it says why.
    http = next(p for p in doc["probes"] if p["probe"] == "http")
    assert "speaks plain HTTP" in http["data"]["detail"]
