"""The connection sampler's panel: success rate, failure kinds, connect and
first-byte p50/p95/max over the window (and whose clock timed them), and the
latest attempts.

Every line is always there (a dash when there is nothing yet), so a live round
changes a few cells and never the panel's height.
"""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.text import Text

from probes.core.clocks import KERNEL, MIXED, WALL, ms_number
from probes.core.model import ProbeResult
from probes.proto.sampler import OK, STARVED, Percentiles, SamplerData, starved_note
from tui.widgets.panels.base import ProbePanel
from tui.widgets.panels.spark import page
from tui.widgets.plain import plain

RECENT_WIDTH = 40
CLOCKS = {KERNEL: "kernel", WALL: "our clock", MIXED: "mixed clocks"}  # short: one line at 80


def _ms(seconds: float | None) -> str:
    return "—" if seconds is None else ms_number(seconds * 1000)


def _times(label: str, p: Percentiles) -> Text:
    clock = f" ({CLOCKS.get(p.clock, p.clock)})" if p.p50_s is not None else ""
    return Text(
        f"{label:<11} p50 {_ms(p.p50_s):>7}  p95 {_ms(p.p95_s):>7}  max {_ms(p.max_s):>7} ms"
        + clock
    )


class ConnectionsPanel(ProbePanel):
    HELP = """\
## Connections
One connection per round (and one request, when the service speaks HTTP or
Redis): the share that succeed over the window, how the others failed, connect
and first-byte times (p50, p95, max), and the latest attempts (✓ ok, ✗ failed).

The times are the kernel's (TCP_INFO: the handshake's round trip, the server's
time to answer), so a busy machine does not inflate them; "(our clock)" marks
figures the kernel had none for.  Attempts cut short while netmedic itself could
not run (a starved machine) are not counted as the server's failures.

- **b** opens many connections at once and holds them (the burst panel): where
  does the service start refusing (max clients, accept backlog, fd limit)?
"""
    DATA = SamplerData

    def render_data(self, result: ProbeResult) -> RenderableType | None:
        data = result.data
        if not isinstance(data, SamplerData):
            return super().render_data(result)
        shown = data.windowed()
        total = shown.judged
        ok = dict(shown.kinds).get(OK, 0)
        head = Text()
        head.append_text(plain(f"{data.address}:{data.port} [{data.speaks}]  ", "bold"))
        rate = 100.0 * ok / total if total else 0.0
        head.append(
            f"{rate:.0f}% ok ({ok}/{total})" if total else "no attempt yet",
            style="green" if total and ok == total else "bold red" if total else "dim",
        )
        head.append(f"  · run: {data.sent} sent, {data.failed} failed")
        bad = [f"{k} {n}" for k, n in shown.kinds if k not in (OK, STARVED)]
        starved = starved_note(dict(shown.kinds).get(STARVED, 0))
        failures = "failures: " + (", ".join(bad) if bad else "none") + starved
        kinds = plain(failures, "red" if bad else "dim")
        recent = Text()
        for attempt in page(data.recent, data.sent, RECENT_WIDTH):
            if attempt.outcome == STARVED:  # not the server's: neither ✓ nor ✗
                recent.append("·", style="dim")
                continue
            good = attempt.outcome == OK
            recent.append("✓" if good else "✗", style="green" if good else "bold red")
        return Group(
            head,
            kinds,
            _times("connect", shown.connect),
            _times("first byte", shown.first_byte),
            recent or Text("—", style="dim"),
        )
