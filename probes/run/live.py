"""What a live run adds to a bounded one: findings that follow the evidence.

A live run keeps its streaming probes (ping, trace, the connection sampler) going
until it is cancelled.  Its findings read each streaming probe's rolling window
(``data.windowed()``), so loss that starts after a minute is raised, and loss that
stops is cleared once the window has moved past it.  A cleared finding is kept as a
record ("cleared at ..."), never dropped, and both changes are journaled as
``finding`` events: the journal tells the story with times, not every packet.

When a streaming probe counts as answered: once its data says it has a first result
(``data.answered``: its first round), it no longer keeps the verdict pending, although
it keeps running: from then on the live verdict is the diagnosis of the evidence so
far, and a finding that stands then is raised.  Headless ``check`` never goes live, so
``ok`` stays the promise it is there: every probe finished.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass

from probes.core.events import FindingChanged
from probes.core.model import Diagnosis, ProbeResult, Severity

# Re-diagnose a live run at most this often (pacing clock seconds), and journal each
# streaming probe's latest snapshot at most this often (so a resumed session can draw
# its panels); other snapshots go to the face only.
DIAGNOSE_EVERY_S = 1.0
CHECKPOINT_EVERY_S = 60.0
RAISED, CLEARED = "raised", "cleared"
MAX_EPISODES = 200
_WORTH = (Severity.WARNING, Severity.ERROR)


def windowed(result: ProbeResult) -> ProbeResult:
    """What the rules read of a streaming probe: its rolling window, as evidence.

    Rules read final results only; a streaming probe that has answered is evidence
    (its window so far is its answer so far) though it never ends."""
    reduce = getattr(result.data, "windowed", None)
    if reduce is None or result.final or not answered(result):
        return result
    return dataclasses.replace(result, data=reduce(), final=True)


def answered(result: ProbeResult | None) -> bool:
    """True when a probe finished, or a streaming probe has its first result."""
    if result is None:
        return False
    return result.final or bool(getattr(result.data, "answered", False))


def window_of(results: Mapping[str, ProbeResult]) -> int:
    return max((int(getattr(r.data, "window", 0) or 0) for r in results.values()), default=0)


@dataclass(frozen=True, slots=True)
class Episode:
    """One stretch of time a finding was up: raised at, cleared at (None: still up)."""

    finding_id: str
    title: str
    severity: str
    raised_at_s: float
    cleared_at_s: float | None = None
    evidence: tuple[str, ...] = ()


class FindingTimeline:
    """Warning and error findings as they come and go during a live run."""

    def __init__(self) -> None:
        self.episodes: list[Episode] = []
        self._open: dict[str, int] = {}  # finding id -> index of its open episode
        self._started = False

    @property
    def cleared(self) -> list[Episode]:
        return [e for e in self.episodes if e.cleared_at_s is not None]

    def update(self, diagnosis: Diagnosis, at_s: float, window: int = 0) -> list[FindingChanged]:
        now = {f.id: f for f in diagnosis.findings if f.severity in _WORTH}
        first, self._started = not self._started, True
        changes: list[FindingChanged] = []
        for fid, index in list(self._open.items()):
            if fid in now:
                continue
            ep = dataclasses.replace(self.episodes[index], cleared_at_s=at_s)
            self.episodes[index] = ep
            del self._open[fid]
            changes.append(
                FindingChanged(fid, CLEARED, ep.severity, ep.title, at_s, window, ep.evidence)
            )
        for fid, finding in now.items():
            if fid in self._open:
                continue
            evidence = tuple(finding.evidence[:8])
            sev = finding.severity.value
            self._open[fid] = len(self.episodes)
            self.episodes.append(Episode(fid, finding.title, sev, at_s, None, evidence))
            changes.append(
                FindingChanged(fid, RAISED, sev, finding.title, at_s, window, evidence, first)
            )
        del self.episodes[:-MAX_EPISODES]  # a flapping finding must not grow memory
        self._open = {
            e.finding_id: i for i, e in enumerate(self.episodes) if e.cleared_at_s is None
        }
        return changes
