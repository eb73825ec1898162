"""WebSocket truths: an unanswered ping outranks the 426 any WebSocket endpoint gives a
plain GET; a pasted keep-alive or idle error pings and holds the socket; ws:// to a
port that speaks TLS says use wss://."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers.base import ServerThread, server_thread
from tests.servers.pki import Pki
from tests.servers.wsserver import echo, idle_cut
from tests.truth_helpers import check, expect, finding

KEEPALIVE = (
    "websockets.exceptions.ConnectionClosedError: sent 1011 (internal error) keepalive ping "
    "timeout; no close frame received"
)


@pytest.fixture(scope="module")
def st() -> Iterator[ServerThread]:
    with server_thread() as s:
        yield s


def test_an_unanswered_ping_outranks_the_plain_get_426(
    st: ServerThread, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    port = st.serve(echo(answer_pings=False))
    code, doc = check(capsys, monkeypatch, f"ws://127.0.0.1:{port}/")
    expect(code, doc, "ws.no_pong", "warning", 0, port=port)
    assert finding(doc, "http.client_error")["severity"] == "info"


def test_a_pasted_keepalive_timeout_pings_and_holds_the_socket(
    st: ServerThread, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    cut = st.serve(idle_cut(1.0))
    code, doc = check(capsys, monkeypatch, f"ws://127.0.0.1:{cut}/", "--error", KEEPALIVE)
    f = expect(code, doc, "ws.idle_timeout", "error", 1, port=cut)
    assert "without traffic" in f["title"]
    ws = next(p for p in doc["probes"] if p["probe"] == "ws")
    assert ws["data"]["hold_s"] == 70.0
    silent = st.serve(echo(answer_pings=False))
    code, doc = check(
        capsys, monkeypatch, f"ws://127.0.0.1:{silent}/", "--error", KEEPALIVE, "--hold", "1"
    )
    expect(code, doc, "ws.no_pong", "warning", 0, port=silent)


def test_a_tunnel_error_naming_only_the_url(
    st: ServerThread, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    cut = st.serve(idle_cut(1.0))
    text = f"ERROR Tunnel client disconnected from ws://127.0.0.1:{cut}/tunnel (idle)"
    code, doc = check(capsys, monkeypatch, "--error", text)
    expect(code, doc, "ws.idle_timeout", "error", 1, port=cut)
    plan = {s["probe"]: s["reason"] for s in doc["plan"]}
    assert "ws" in plan


def test_ws_to_a_tls_port_says_use_wss(
    st: ServerThread,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pki = Pki(tmp_path)
    port = st.serve(echo(), ssl_ctx=pki.server_context(pki.leaf()))
    code, doc = check(capsys, monkeypatch, f"ws://127.0.0.1:{port}/")
    f = expect(code, doc, "http.not_http", "error", 1, port=port)
    assert "use wss://" in f["title"]
    assert any(f"wss://127.0.0.1:{port}/" in (s.get("command") or "") for s in f["next_steps"])
