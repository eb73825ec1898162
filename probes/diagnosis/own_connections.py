"""Which of the connections a local look counted are this run's own.

Every probe that opens connections to the target records their local ends in its
result (``own_sources``: the TCP probe's connects, banner nudge and repeats, the
HTTP exchange, the connection sampler).  A server socket whose remote end is one of
them is netmedic talking to the server, not another client: the connection-state
rules leave it out of their counts, and say so.

:func:`split` sorts a look's connection ends into the ones that count and the
ones that do not, with why:

* a socket of this run never counts in a bounded run; in a live run it counts once
  it has outlasted an earlier look (the server never closed *our* connection either);
* other clients' sockets count, except at a bounded run's second look (taken because
  the first saw a pile-up), where only the ones already there at the first count: a
  newer one may be a slow answer whose client hung up, which comes and goes; a leak
  stays.  A live run looks again anyway, so there they count at once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from probes.diagnosis.evidence import Evidence
from probes.host.connends import ConnEnd, parse_endpoint


@runtime_checkable
class OpensConnections(Protocol):
    """Probe data that knows the local ends of the connections its probe opened."""

    @property
    def own_sources(self) -> tuple[str, ...]: ...


def own_ends(ev: Evidence) -> frozenset[tuple[str, int]]:
    """(address, port) of every connection this run's probes opened, from any result
    (a failed or unfinished probe's connections are ours all the same)."""
    ends: set[tuple[str, int]] = set()
    for result in ev.results.values():
        if isinstance(result.data, OpensConnections):
            for text in result.data.own_sources:
                parsed = parse_endpoint(text)
                if parsed is not None:
                    ends.add(parsed)
    return frozenset(ends)


@dataclass(frozen=True, slots=True)
class Split:
    """A look's sockets in one state, sorted by whether they count."""

    counted: int  # sockets that count (other clients' that stay, ours that outlasted a look)
    ours: int  # this run's own connections, left out
    newer: int  # other clients' sockets newer than the first look... (a second look only)
    since_s: float  # ...taken that many seconds before this one (0: one look only)
    sampled: bool  # the ends are a sample: the state had more sockets than were recorded


def split(
    total: int,
    ends: Iterable[ConnEnd],
    own: frozenset[tuple[str, int]],
    since_previous_s: float,
    live: bool = False,
) -> Split:
    """Sort *total* sockets in one state whose client ends are *ends* (a sample when
    there were more than the look records; the rest count as other clients').  *live*:
    the look is a live run's, where ours that outlasted a look count and other
    clients' count at once."""
    ends = tuple(ends)
    ours = sum(1 for e in ends if e.key in own and not (live and e.held_s > 0))
    rest = total - ours
    if since_previous_s <= 0 or live:
        return Split(rest, ours, 0, 0.0, total > len(ends))
    # A bounded run's second look: the sockets the first did not have are newer than
    # it; only the ones that stayed count (and the unrecorded ones of a sample).
    newer = sum(1 for e in ends if e.key not in own and e.held_s <= 0)
    return Split(rest - newer, ours, newer, since_previous_s, total > len(ends))


def left_out(what: str, s: Split) -> list[str]:
    """Evidence lines for the sockets *s* did not count."""
    lines = []
    if s.ours:
        lines.append(
            f"{s.ours} of them {'is' if s.ours == 1 else 'are'} netmedic's own "
            f"connection{'' if s.ours == 1 else 's'} of this run, not counted"
        )
    if s.newer:
        lines.append(
            f"{s.newer} {what} socket{'' if s.newer == 1 else 's'} of other clients "
            f"{'was' if s.newer == 1 else 'were'} not there at the first look {s.since_s:.1f} s "
            "earlier, not counted: a slow answer whose client hung up looks the same, "
            "only the sockets that stay are a leak"
        )
    if s.sampled and (s.ours or s.newer):
        lines.append(f"more {what} sockets than the look records one by one: the rest are counted")
    return lines
