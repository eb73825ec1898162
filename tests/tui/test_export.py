"""The export key writes the journal's report: safe files, every format."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from probes.core.events import FindingChanged
from probes.core.model import Diagnosis, Finding, ProbeResult, Severity, Status
from probes.core.target import parse_target
from probes.record.journal import Journal
from probes.record.journal_writer import JournalWriter
from probes.run.runner import ProbeUpdate, RunFinished
from tests.data.make_session import FACTS
from tui.export import ExportError, export_report
from tui.session import Session

TARGET = parse_target("127.0.0.1:9")


def _session(*, with_run: bool = True) -> Session:
    writer = JournalWriter(lambda: Journal.in_memory(TARGET, "refused", plan=("tcp",), facts=FACTS))
    session = Session(TARGET, "refused", sink=writer, journal=writer)
    if with_run:
        finding = Finding("tcp.refused", Severity.ERROR, "Port 9 refused", ("RST from 127.0.0.1",))
        writer.emit(ProbeUpdate(ProbeResult("tcp", Status.FAILED, 0.001, "127.0.0.1:9 refused")))
        writer.emit(RunFinished(Diagnosis((finding,), "tcp.refused"), 0.1))
    return session


def test_export_never_overwrites_or_follows_symlinks(tmp_path: Path) -> None:
    session = _session()
    first = export_report(session, "md", tmp_path)
    assert first.name.startswith("netmedic-") and first.suffix == ".md"
    victim = tmp_path / "victim"
    victim.write_text("keep")
    second_name = first.name.replace(".md", "-1.md")
    (tmp_path / second_name).symlink_to(victim)
    second = export_report(session, "md", tmp_path)
    assert second.name == first.name.replace(".md", "-2.md")
    assert victim.read_text() == "keep"
    for path in (first, second):
        assert os.stat(path).st_mode & 0o777 == 0o600
        assert "tcp.refused" in path.read_text()


@pytest.mark.parametrize("fmt", ["md", "html", "json"])
def test_every_format_is_the_journal_report(tmp_path: Path, fmt: str) -> None:
    path = export_report(_session(), fmt, tmp_path)
    text = path.read_text()
    assert path.suffix == f".{fmt}"
    if fmt == "json":
        doc = json.loads(text)
        assert doc["schema"] == "netmedic.report" and doc["verdict"]["id"] == "tcp.refused"
    assert "tcp.refused" in text and "127.0.0.1:9" in text


def test_export_before_any_probe_reported_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="nothing to export"):
        export_report(_session(with_run=False), "md", tmp_path)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("fmt", ["md", "html", "json"])
def test_report_tells_findings_raised_and_cleared(tmp_path: Path, fmt: str) -> None:
    """A live run's ``finding`` journal events become a short story in the report."""
    session = _session()
    journal = session.journal
    assert journal is not None
    title = "Loss toward 127.0.0.1"
    journal.emit(FindingChanged("path.loss", "raised", "warning", title, 65.0, 60))
    journal.emit(FindingChanged("path.loss", "cleared", "warning", title, 130.0, 60))
    text = export_report(session, fmt, tmp_path).read_text()
    if fmt == "json":
        story = json.loads(text)["finding_story"]
        assert [(m["finding_id"], m["change"]) for m in story] == [
            ("path.loss", "raised"),
            ("path.loss", "cleared"),
        ]
    else:
        assert "Findings raised and cleared" in text
        assert "raised: Loss toward 127.0.0.1" in text
        assert "cleared: Loss toward 127.0.0.1" in text
