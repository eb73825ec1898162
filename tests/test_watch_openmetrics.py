"""``watch --openmetrics FILE``: the live run's metrics, replaced whole each interval
(for node_exporter's textfile collector), never written through a symlink."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from probes.record.safefile import OutputError
from probes.record.textfile import replace_atomically
from tests.exporter_lab import promtool_check, samples


def _watch(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tui.cli", "watch", "--interval", "0.2", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_watch_writes_openmetrics_each_interval(closed_port: int, tmp_path: Path) -> None:
    out_file = tmp_path / "netmedic.prom"
    done = _watch("--count", "20", "--openmetrics", str(out_file), "--", f"127.0.0.1:{closed_port}")
    assert done.returncode == 0, done.stderr
    text = out_file.read_text()
    assert text.endswith("# EOF\n")
    assert samples(text, "netmedic_verdict") == {'{id="tcp.refused",severity="error"}': 1.0}
    assert samples(text, "probe_success") == {"": 0.0}
    assert '{probe="connections",status="ok"}' in samples(text, "netmedic_probe_duration_seconds")
    assert stat.S_IMODE(out_file.stat().st_mode) == 0o644
    assert os.listdir(tmp_path) == ["netmedic.prom"]  # no temporary file left behind
    checked = promtool_check(text)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_watch_refuses_a_symlink_as_metrics_file(closed_port: int, tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("keep me\n")
    link = tmp_path / "metrics.prom"
    link.symlink_to(victim)
    done = _watch("--count", "1", "--openmetrics", str(link), "--", f"127.0.0.1:{closed_port}")
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "symbolic link" in done.stderr
    assert victim.read_text() == "keep me\n" and done.stdout == ""


def test_replacing_is_whole_and_leaves_a_link_planted_later_alone(tmp_path: Path) -> None:
    target = tmp_path / "m.prom"
    replace_atomically(target, b"a 1\n")
    first_inode = target.stat().st_ino
    replace_atomically(target, b"a 2\n")
    assert target.read_bytes() == b"a 2\n" and target.stat().st_ino != first_inode
    target.unlink()
    target.symlink_to(tmp_path / "elsewhere")
    with pytest.raises(OutputError, match="symbolic link"):
        replace_atomically(target, b"a 3\n")
    assert not (tmp_path / "elsewhere").exists()
    assert sorted(os.listdir(tmp_path)) == ["m.prom"]
