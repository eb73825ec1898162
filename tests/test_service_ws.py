"""WebSocket past the upgrade: close frames, ping/pong, idle timeouts (--hold)."""

from __future__ import annotations

import shlex
from collections.abc import Iterator

import pytest

from probes.proto.ws import WsData
from tests.probe_helpers import check_cli, evidence, finding, run
from tests.servers.base import ServerThread, server_thread
from tests.servers.wsserver import close_at_once, echo, idle_cut, refused


@pytest.fixture(scope="module")
def st() -> Iterator[ServerThread]:
    with server_thread() as s:
        yield s


def test_101_then_close_1008_is_not_ok(st: ServerThread) -> None:
    port = st.serve(close_at_once(1008, "Authentication failed: Invalid API key"))
    doc, _, _ = check_cli(f"ws://127.0.0.1:{port}/tunnel", "--symptom", "websocket")
    assert doc["verdict"] == "ws.closed_after_upgrade"
    f = next(f for f in doc["findings"] if f["id"] == "ws.closed_after_upgrade")
    text = "\n".join([f["title"], *f["evidence"]])
    assert "1008" in text and "Authentication failed: Invalid API key" in text
    assert "policy violation" in text
    for step in f["next_steps"]:
        if step["command"]:
            argv = shlex.split(step["command"])
            assert argv[:3] == ["netmedic", "check", f"ws://127.0.0.1:{port}/tunnel"]


def test_echo_server_is_ok_with_a_timed_pong(st: ServerThread) -> None:
    port = st.serve(echo())
    the_run, diagnosis = run(f"ws://127.0.0.1:{port}/", ("ws",), "websocket")
    assert diagnosis.verdict == "ok"
    data = the_run.results["ws"].data
    assert isinstance(data, WsData) and data.pong_s is not None and data.pong_s >= 0
    assert "ping → pong in" in evidence(diagnosis, "ws.ok")


def test_no_pong_is_a_warning(st: ServerThread) -> None:
    port = st.serve(echo(answer_pings=False))
    _, diagnosis = run(f"ws://127.0.0.1:{port}/", ("ws",), "websocket", timeout=4.0)
    assert diagnosis.verdict == "ws.no_pong"


def test_hold_catches_an_idle_timeout(st: ServerThread) -> None:
    port = st.serve(idle_cut(1.5))
    doc, _, _ = check_cli(
        f"ws://127.0.0.1:{port}/", "--symptom", "websocket", "--hold", "4", "--timeout", "3"
    )
    assert doc["verdict"] == "ws.idle_timeout"
    f = next(f for f in doc["findings"] if f["id"] == "ws.idle_timeout")
    text = "\n".join([f["title"], *f["evidence"]])
    assert "code 1006" in text and "--hold 4 s" in text
    hold = next(s["command"] for s in f["next_steps"] if s["command"])
    assert "--hold" in shlex.split(hold)


def test_hold_on_a_healthy_socket_is_ok(st: ServerThread) -> None:
    port = st.serve(echo())
    _, diagnosis = run(f"ws://127.0.0.1:{port}/", ("ws",), "websocket", ws_hold=1.0)
    assert diagnosis.verdict == "ok"
    assert "--hold 1 s" in evidence(diagnosis, "ws.ok")


def test_refused_upgrade_shows_the_body(st: ServerThread) -> None:
    port = st.serve(refused(403, "Forbidden", b"rate limit exceeded, retry in 60 s"))
    _, diagnosis = run(f"ws://127.0.0.1:{port}/", ("ws",), "websocket")
    f = finding(diagnosis, "ws.upgrade_rejected")
    text = evidence(diagnosis, "ws.upgrade_rejected")
    assert "rate limit exceeded, retry in 60 s" in f.title and "rate-limits" in text
