"""Shared fixtures.  Lab (namespace) fixtures skip with a reason when not root."""

from __future__ import annotations

import signal
from collections.abc import Iterator

import pytest

from tests import probe_helpers
from tests.lab.netns import Lab, lab_unavailable_reason

_reason: list[str | None] = []


def pytest_configure(config: pytest.Config) -> None:
    """The kill tests expect their children to die of SIGHUP and SIGINT.  A suite started
    under nohup, or as a background job of a script, inherits those signals ignored, and
    exec keeps an ignored signal ignored: give them back their defaults (each xdist
    worker loads this file too)."""
    if signal.getsignal(signal.SIGHUP) == signal.SIG_IGN:
        signal.signal(signal.SIGHUP, signal.SIG_DFL)
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def _lab_reason() -> str | None:
    if not _reason:
        _reason.append(lab_unavailable_reason())
    return _reason[0]


@pytest.fixture(autouse=True)
def _private_state_dir(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Session journals from tests (``netmedic check`` writes one) never land in
    the real ``~/.local/state``; subprocesses inherit the variable."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path_factory.mktemp("state")))
    # Nor are the person's saved services (services.toml) read by a test.
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("config")))
    monkeypatch.delenv("NETMEDIC_CONFIG_DIR", raising=False)


@pytest.fixture
def lab() -> Iterator[Lab]:
    reason = _lab_reason()
    if reason:
        pytest.skip(reason)
    with Lab() as the_lab:
        yield the_lab


@pytest.fixture(scope="module")
def module_lab() -> Iterator[Lab]:
    reason = _lab_reason()
    if reason:
        pytest.skip(reason)
    with Lab("mod") as the_lab:
        yield the_lab


@pytest.fixture(name="closed_port")
def closed_port_fixture() -> int:
    """A loopback TCP port nothing listens on."""
    return probe_helpers.closed_port()
