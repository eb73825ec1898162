"""Loopback cases where the evidence used to lie (real servers on 127.0.0.1)."""

from __future__ import annotations

import pytest

from probes.path import mtu
from tests.probe_helpers import run


def test_mtu_on_loopback_is_skipped_with_a_reason() -> None:
    the_run, _diagnosis = run("127.0.0.1:9", ("mtu",), timeout=1.0)
    result = the_run.results["mtu"]
    assert result.status.value == "skipped"
    assert "loopback" in result.summary


def test_mtu_search_is_clamped_to_what_ip_can_carry(monkeypatch: pytest.MonkeyPatch) -> None:
    # Measure loopback anyway (MTU 65536): the search must stop at 65535 bytes.
    monkeypatch.setattr(mtu, "stays_on_host", lambda *_args: False)
    the_run, _diagnosis = run("127.0.0.1:9", ("mtu",), timeout=1.0)
    result = the_run.results["mtu"]
    assert result.status.value == "ok", result
    assert isinstance(result.data, mtu.MtuData)
    assert result.data.local_mtu == 65535
    assert result.data.path_mtu == 65535
