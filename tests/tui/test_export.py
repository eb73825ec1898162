from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

from probes.model import Diagnosis
from probes.runner import Run
from probes.target import parse_target
from tui.export import ExportError, export_session
from tui.session import Session

NOW = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)


def _session() -> Session:
    target = parse_target("127.0.0.1:9")
    session = Session(target, "refused")
    session.start_run(Run(target, "refused"))
    session.finish_run(Diagnosis((), "ok"), 0.1)
    return session


def test_export_never_overwrites_or_follows_symlinks(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("keep")
    (tmp_path / "netmedic-20260102-030405.json").symlink_to(victim)
    (tmp_path / "netmedic-20260102-030405-1.json").write_text("old")
    path = export_session(_session(), tmp_path, NOW)
    assert path.name == "netmedic-20260102-030405-2.json"
    assert victim.read_text() == "keep"
    assert (tmp_path / "netmedic-20260102-030405-1.json").read_text() == "old"
    assert os.stat(path).st_mode & 0o777 == 0o600


def test_export_before_any_run_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ExportError):
        export_session(Session(parse_target("127.0.0.1:9"), "refused"), tmp_path, NOW)
