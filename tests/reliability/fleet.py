"""Many ``netmedic check`` processes at once against faulty targets, in a lab namespace.

:func:`fault_lab` makes one namespace with the servers of :mod:`faultservers` and the
blackhole rule; :func:`run_fleet` starts N checks at once (targets and timeouts taken
in turn from :data:`TARGETS` and the given timeouts) and returns one :class:`Outcome`
per check: exit status, verdict, wall time and peak RSS (from ``wait4``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.lab.netns import Lab
from tests.probe_helpers import status_for
from tests.reliability.faultservers import BLACKHOLE_RULES, PORTS, SLOW_S

REPO = Path(__file__).resolve().parents[2]

# target -> the verdicts that are right for it (besides "incomplete").
TARGETS: dict[str, tuple[str, frozenset[str]]] = {
    "refused": (
        f"127.0.0.1:{PORTS['refused']}",
        frozenset({"tcp.refused", "local.not_listening"}),
    ),
    "blackhole": (
        f"127.0.0.1:{PORTS['blackhole']}",
        frozenset({"tcp.filtered", "local.firewall_blocked", "path.host_down"}),
    ),
    "slow": (f"http://127.0.0.1:{PORTS['slow']}/", frozenset({"http.timeout"})),
    "reset": (
        f"127.0.0.1:{PORTS['reset']}",
        frozenset({"tcp.reset_after_connect"}),
    ),
    "hostile": (
        f"http://127.0.0.1:{PORTS['hostile']}/",
        frozenset({"http.unavailable", "http.timeout", "http.server_error"}),
    ),
}


@dataclass(frozen=True)
class Outcome:
    kind: str
    timeout: float
    returncode: int
    verdict: str
    wall_s: float
    max_rss_kb: int
    stdout: bytes
    stderr: bytes

    @property
    def right(self) -> bool:
        return self.verdict == "incomplete" or self.verdict in right_verdicts(
            self.kind, self.timeout
        )

    @property
    def expected_status(self) -> int | None:
        """The exit status its JSON calls for (README "Guarantees"); None without a
        JSON document."""
        try:
            doc = json.loads(self.stdout)
        except ValueError:
            return None
        return status_for(doc)


def right_verdicts(kind: str, timeout: float) -> frozenset[str]:
    """What a correct check says about *kind*: only the slow server, given more time
    than it takes, is rightly ``ok`` (it did answer 200)."""
    right = TARGETS[kind][1]
    if kind == "slow" and timeout > SLOW_S + 0.5:
        right |= {"ok", "http.slow_response"}
    return right


@contextmanager
def cpu_hogs(n: int) -> Iterator[None]:
    """*n* processes that spin on a CPU each, for as long as the block runs."""
    spin = [sys.executable, "-c", "while True: pass"]
    hogs = [subprocess.Popen(spin) for _ in range(n)]
    try:
        yield
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()


@contextmanager
def fault_lab() -> Iterator[tuple[Lab, str]]:
    with Lab("rel") as lab:
        ns = lab.add_host("box")
        lab.nft(ns, BLACKHOLE_RULES)
        lab.python(ns, "tests.reliability.faultservers")
        yield lab, ns


def netmedic_command() -> list[str]:
    """The CLI, reporting its own peak memory (tests/reliability/peakrun.py)."""
    return [sys.executable, "-m", "tests.reliability.peakrun"]


def own_peak_kb(stderr: bytes, fallback: int) -> int:
    """The ``peak_rss_kb`` line the check printed last (*fallback* when it printed none)."""
    found = re.findall(rb"^peak_rss_kb (\d+)$", stderr, re.M)
    return int(found[-1]) if found else fallback


def run_fleet(ns: str, n: int, timeouts: Sequence[float]) -> list[Outcome]:
    kinds = list(TARGETS)
    jobs = []
    for i in range(n):
        kind = kinds[i % len(kinds)]
        jobs.append((kind, TARGETS[kind][0], timeouts[i % len(timeouts)]))
    return run_checks(ns, jobs)


def run_checks(ns: str, jobs: Sequence[tuple[str, str, float]]) -> list[Outcome]:
    """``netmedic check --json`` for every (kind, target, timeout) of *jobs*, all at once."""
    state = Path(tempfile.mkdtemp(prefix="netmedic-fleet-"))
    env = {**os.environ, "XDG_STATE_HOME": str(state), "PYTHONPATH": str(REPO)}
    procs = []
    try:
        for kind, target, timeout in jobs:
            cmd = ["ip", "netns", "exec", ns, *netmedic_command()]
            cmd += ["check", "--json", "--timeout", str(timeout), "--", target]
            out = tempfile.TemporaryFile()  # noqa: SIM115 (closed in finally)
            err = tempfile.TemporaryFile()  # noqa: SIM115
            started = time.monotonic()
            proc = subprocess.Popen(cmd, stdout=out, stderr=err, cwd=REPO, env=env)
            procs.append((kind, timeout, proc, out, err, started))
        outcomes: list[Outcome | None] = [None] * len(procs)

        def reap(i: int) -> None:
            kind, timeout, proc, out, err, started = procs[i]
            _, status, usage = os.wait4(proc.pid, 0)
            wall = time.monotonic() - started
            proc.returncode = os.waitstatus_to_exitcode(status)
            out.seek(0)
            err.seek(0)
            stdout, stderr = out.read(), err.read()
            try:
                verdict = str(json.loads(stdout)["verdict"])
            except (ValueError, KeyError, TypeError):
                verdict = "(no JSON)"
            outcomes[i] = Outcome(
                kind,
                timeout,
                proc.returncode,
                verdict,
                wall,
                own_peak_kb(stderr, usage.ru_maxrss),
                stdout,
                stderr,
            )

        reapers = [threading.Thread(target=reap, args=(i,)) for i in range(len(procs))]
        for thread in reapers:
            thread.start()
        for thread in reapers:
            thread.join()
        return [o for o in outcomes if o is not None]
    finally:
        for _, _, proc, out, err, _ in procs:
            if proc.returncode is None:
                proc.kill()
                proc.wait()
            out.close()
            err.close()
        shutil.rmtree(state, ignore_errors=True)
