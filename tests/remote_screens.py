"""Screenshots of both ends and other vantages, taken in the namespace lab.

    python -m tests.remote_screens OUTDIR NAME TARGET FIELD

Run inside the lab client's namespace by ``tests/test_remote_lab.py`` (real sshd, real
probes, the real TUI headless): it picks the refused symptom, types TARGET, opens the
"other hosts" field (ctrl+o), types FIELD and saves the finished diagnosis, scrolled to
the server and vantage panels, at 80x24 and 120x40 as ``OUTDIR/NAME-80x24.svg`` and
``-120x40.svg``.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

from textual.widgets import Input

from probes.core.context import ProbeConfig
from tui.app import NetmedicApp

SIZES = ((120, 40), (80, 24))


async def shoot(outdir: Path, name: str, target: str, field: str) -> list[Path]:
    """One run of the app, saved at each size (resized, not run again)."""
    paths = []
    with tempfile.TemporaryDirectory() as tmp:
        app = NetmedicApp(
            None,
            None,
            config=ProbeConfig(timeout=2.0, proxy_env=()),
            clock=lambda: 0.0,
            recent_path=Path(tmp) / "recent.json",
            export_dir=Path(tmp),
            blink=False,
            live=False,
        )
        async with app.run_test(size=SIZES[0]) as pilot:
            await pilot.press(*"refused", "enter")
            app.screen.query_one("#target", Input).value = target
            await pilot.press("ctrl+o", *field, "enter")
            for _ in range(3):  # the field's worker, then the run's
                await pilot.pause()
                await app.workers.wait_for_complete()
            for size in SIZES:
                await pilot.resize_terminal(*size)
                await pilot.pause(0.2)
                if app.screen.has_class("-narrow") and not app.screen.has_class("-show-probes"):
                    await pilot.press("v")  # 80 columns: the probes view holds the panels
                    await pilot.pause(0.2)
                for panel_id in ("#panel-server", "#panel-vantages"):  # what this is about
                    found = app.screen.query(panel_id)
                    if found:
                        found.first().scroll_visible(animate=False, top=panel_id.endswith("server"))
                        await pilot.pause(0.1)
                path = outdir / f"{name}-{size[0]}x{size[1]}.svg"
                path.write_text(app.export_screenshot(title=f"netmedic — {name}"))
                paths.append(path)
    return paths


def main(argv: list[str]) -> int:
    outdir, name, target, field = Path(argv[0]), argv[1], argv[2], argv[3]
    for path in asyncio.run(shoot(outdir, name, target, field)):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
