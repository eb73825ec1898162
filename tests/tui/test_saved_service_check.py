"""Choosing a saved service in the TUI runs exactly what ``netmedic check @name``
runs: the same target (the kind's health path), header from the environment, kind
and expected status, so the same findings come out (http.unexpected_status).

Real probes against a real HTTP server on loopback whose health path answers
202 where the saved service expects 200."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from textual.widgets import OptionList

from probes.core.events import RunFinished
from probes.record.services import ServiceCheck, find_service, service_check
from tests.probe_helpers import ROOT, check_cli, clean_env
from tests.tui.helpers import RecordingSink
from tui.app import NetmedicApp
from tui.screens.diagnosis import DiagnosisScreen
from tui.screens.symptom_picker import SymptomPickerScreen

KEY = "k-saved-7731"


class Health:
    """Answers 202 to every request; remembers the paths and api-key values it got."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    async def __call__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            lines = head.decode("latin-1").split("\r\n")
            path = lines[0].split(" ")[1] if " " in lines[0] else ""
            key = next(
                (
                    v.strip()
                    for n, _, v in (x.partition(":") for x in lines)
                    if n.lower() == "api-key"
                ),
                "",
            )
            self.seen.append((path, key))
            writer.write(b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            await writer.drain()
        except (TimeoutError, ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()


@pytest.fixture
async def health() -> AsyncIterator[tuple[Health, int]]:
    handler = Health()
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    yield handler, server.sockets[0].getsockname()[1]
    server.close()


def _saved(tmp_path: Path, port: int) -> Path:
    config = tmp_path / "config"
    config.mkdir()
    (config / "services.toml").write_text(
        "[services.vectors]\n"
        f'url = "http://127.0.0.1:{port}"\n'
        'kind = "qdrant"\n'
        'headers = { "api-key" = "$QDRANT_API_KEY" }\n'
        "expect = 200\n"
    )
    return config


def _app(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    sink: RecordingSink,
    service: ServiceCheck | None = None,
) -> NetmedicApp:
    """The app as a person starts it, without the machine's proxy settings."""
    for name in [n for n in os.environ if "proxy" in n.lower()]:
        monkeypatch.delenv(name)
    return NetmedicApp(
        sink=sink,
        recent_path=tmp_path / "recent.json",
        export_dir=tmp_path,
        blink=False,
        privileged=False,
        live=False,
        service=service,
    )


async def test_saved_service_in_the_tui_finds_what_check_finds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, health: tuple[Health, int]
) -> None:
    handler, port = health
    config = _saved(tmp_path, port)
    monkeypatch.setenv("NETMEDIC_CONFIG_DIR", str(config))
    monkeypatch.setenv("QDRANT_API_KEY", KEY)
    sink = RecordingSink()
    app = _app(tmp_path, monkeypatch, sink)
    async with app.run_test(size=(120, 40)) as pilot:
        assert isinstance(app.screen, SymptomPickerScreen)
        listing = app.screen.query_one("#saved-list", OptionList)
        listing.focus()
        listing.highlighted = 0
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, DiagnosisScreen)
        session = app.screen.session
        assert session.target.input == f"http://127.0.0.1:{port}/healthz"
        assert (session.config.service_kind, session.config.expect_status) == ("qdrant", 200)
        await app.workers.wait_for_complete()
        await pilot.pause()
    (done,) = [e for e in sink.events if isinstance(e, RunFinished)]
    in_tui = {f.id: f for f in done.diagnosis.findings}
    assert "http.unexpected_status" in in_tui, list(in_tui)

    tui_requests = list(handler.seen)
    assert ("/healthz", KEY) in tui_requests  # the health path, the key from the environment
    handler.seen.clear()
    env = clean_env(NETMEDIC_CONFIG_DIR=str(config), QDRANT_API_KEY=KEY)
    doc, _out, _err = await asyncio.to_thread(check_cli, "@vectors", env=env)
    assert ("/healthz", KEY) in handler.seen
    in_cli = {f["id"]: f for f in doc["findings"]}
    assert doc["target"]["input"] == session.target.input
    ours, theirs = in_tui["http.unexpected_status"], in_cli["http.unexpected_status"]
    assert (ours.severity.value, ours.title) == (theirs["severity"], theirs["title"])
    assert "the saved service expects 200" in ours.title
    assert doc["verdict"] == done.diagnosis.verdict


async def test_netmedic_at_name_opens_the_tui_on_the_saved_service(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, health: tuple[Health, int]
) -> None:
    """`netmedic @vectors` (run_app(service=...)): straight to the diagnosis, same run."""
    handler, port = health
    saved = service_check(
        find_service("vectors", _saved(tmp_path, port) / "services.toml"), {"QDRANT_API_KEY": KEY}
    )
    sink = RecordingSink()
    app = _app(tmp_path, monkeypatch, sink, service=saved)
    async with app.run_test(size=(120, 40)) as pilot:
        assert isinstance(app.screen, DiagnosisScreen)
        assert app.screen.session.symptom == "auto"
        await app.workers.wait_for_complete()
        await pilot.pause()
    (done,) = [e for e in sink.events if isinstance(e, RunFinished)]
    assert "http.unexpected_status" in [f.id for f in done.diagnosis.findings]
    assert ("/healthz", KEY) in handler.seen


def test_netmedic_at_an_unknown_name_is_a_usage_error(tmp_path: Path) -> None:
    config = _saved(tmp_path, 1)
    done = subprocess.run(
        [sys.executable, "-m", "tui.cli", "@nope"],
        capture_output=True,
        text=True,
        env=clean_env(NETMEDIC_CONFIG_DIR=str(config)),
        cwd=ROOT,
        timeout=30,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert "no saved service 'nope'" in done.stderr and "saved: vectors" in done.stderr
