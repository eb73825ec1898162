"""`netmedic watch @NAME`: a saved service from a temporary services.toml, watched
against a real loopback server that wants the service's API key."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from probes.record.session import load_session
from tests.probe_helpers import ROOT, clean_env
from tests.servers.apis import qdrant
from tests.servers.base import server_thread

KEY = "saved-key-7f3a"
SERVICES = """\
[services.vectors]
url = "http://127.0.0.1:{port}"
kind = "qdrant"
headers = {{ "api-key" = "$QDRANT_API_KEY" }}
"""


@pytest.fixture
def qdrant_port() -> Iterator[int]:
    """A Qdrant stand-in: /healthz answers 200 with the key, 401 without or with another."""
    with server_thread() as servers:
        yield servers.serve(qdrant(KEY))


def _watch(config: Path, key: str) -> tuple[list[dict[str, Any]], str]:
    done = subprocess.run(
        [sys.executable, "-m", "tui.cli", "watch", "@vectors", "--json",
         "--interval", "0.5", "--count", "6", "--timeout", "2"],
        capture_output=True, text=True, cwd=ROOT, timeout=60, check=False,
        env=clean_env(NETMEDIC_CONFIG_DIR=str(config), XDG_STATE_HOME=str(config / "state"),
                      QDRANT_API_KEY=key),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert KEY not in done.stdout + done.stderr  # the key is sent, never shown
    # (3 s of watching: the one-shot probes finish inside it on a loaded machine too;
    # at 0.2 s intervals a starved http probe left the verdict honestly incomplete)
    return [json.loads(line) for line in done.stdout.splitlines()], done.stdout


def test_watch_at_name_sends_the_services_key_to_its_health_path(
    qdrant_port: int, tmp_path: Path
) -> None:
    (tmp_path / "services.toml").write_text(SERVICES.format(port=qdrant_port))
    lines, _out = _watch(tmp_path, KEY)
    ticks = [d for d in lines if "interval" in d]
    assert len(ticks) == 6 and ticks[-1]["connections"]["sent"] >= 3
    assert all(set(t["connections"].get("rates", {})) <= {"ok"} for t in ticks), ticks
    assert ticks[-1]["connections"]["rates"] == {"ok": 100.0}
    assert lines[-1]["summary"].endswith("verdict ok"), lines[-1]
    assert lines[-1]["summary"].startswith(f"watched @vectors (127.0.0.1:{qdrant_port}) for 6")
    saved = load_session(None, tmp_path / "state" / "netmedic" / "sessions")
    assert saved.target().input == f"http://127.0.0.1:{qdrant_port}/healthz"  # the kind's path


def test_watch_at_name_with_another_key_is_refused_by_the_server(
    qdrant_port: int, tmp_path: Path
) -> None:
    (tmp_path / "services.toml").write_text(SERVICES.format(port=qdrant_port))
    lines, out = _watch(tmp_path, "not-the-key")
    ticks = [d for d in lines if "interval" in d]
    assert ticks[-1]["connections"]["rates"] == {"status 401": 100.0}
    assert any(f["id"] == "http.unauthorized" for t in ticks for f in t["findings_raised"])
    assert "not-the-key" not in out
