"""Make SVG (and PNG, when cairosvg is installed) screenshots of every screen.

    python -m tests.screenshots [OUTDIR]     (default: screenshots/)

The app runs headless against the deterministic fake engine
(:mod:`tests.fake_engine`), so the pictures are reproducible.
"""

from __future__ import annotations

import asyncio
import importlib
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path

from textual.pilot import Pilot

from probes.core.context import ProbeConfig
from probes.core.target import Target, parse_target
from probes.record.journal import Journal
from probes.record.session import load_session
from tests.fake_engine import FakeNetwork
from tui.app import NetmedicApp

Step = Callable[[Pilot[int], FakeNetwork], Awaitable[None]]


async def _settle(pilot: Pilot[int], _net: FakeNetwork) -> None:
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def _type_cert(pilot: Pilot[int], _net: FakeNetwork) -> None:
    await pilot.press(*"cert")


async def _bad_target(pilot: Pilot[int], _net: FakeNetwork) -> None:
    await pilot.press("enter", *"db.internal:99999")


async def _retest_green(pilot: Pilot[int], net: FakeNetwork) -> None:
    await _settle(pilot, net)
    await pilot.press("space")
    net.listening = True
    await pilot.press("r")
    await _settle(pilot, net)


async def _copy(pilot: Pilot[int], net: FakeNetwork) -> None:
    await _settle(pilot, net)
    await pilot.press("c")


SHOTS: list[tuple[str, str | None, str | None, tuple[int, int], Step, dict[str, object]]] = [
    ("01-symptom-picker", None, None, (80, 24), _settle, {}),
    ("02-symptom-filter", None, None, (80, 24), _type_cert, {}),
    ("03-target-error", None, None, (80, 24), _bad_target, {}),
    ("04-diagnosis-refused-80x24", "127.0.0.1:5432", "refused", (80, 24), _settle, {}),
    ("05-diagnosis-live-120x40", "db.internal:5432", "refused", (120, 40), _settle, {"live": True}),
    ("06-retest-green-120x40", "127.0.0.1:5432", "refused", (120, 40), _retest_green, {}),
    ("07-dns-nxdomain-120x40", "db.internl:5432", "dns", (120, 40), _settle, {"nxdomain": True}),
    ("08-copy-command", "127.0.0.1:5432", "refused", (80, 24), _copy, {}),
]


async def shoot(outdir: Path) -> list[Path]:
    written = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, target, symptom, size, step, opts in SHOTS:
            net = FakeNetwork(nxdomain=bool(opts.get("nxdomain")))
            plans = (
                {"refused": ("dns", "route", "tcp", "ping", "trace")} if opts.get("live") else None
            )
            app = NetmedicApp(
                parse_target(target) if target else None,
                symptom,
                config=ProbeConfig(),
                probe_overrides=net.overrides(),
                plans=plans,
                clock=lambda: 0.0,
                recent_path=Path(tmp) / "recent.json",
                export_dir=Path(tmp),
                blink=False,
                privileged=True,
            )
            async with app.run_test(size=size) as pilot:
                await step(pilot, net)
                await pilot.pause()
                path = outdir / f"{name}.svg"
                path.write_text(app.export_screenshot(title=f"netmedic — {name[3:]}"))
                written.append(path)
        written.append(await _resumed(outdir, Path(tmp)))
        written += await _saved_service(outdir, Path(tmp))
    return written


async def _saved_service(outdir: Path, tmp: Path) -> list[Path]:
    """A saved service (services.toml) picked in the TUI: a Qdrant-style API on
    loopback refusing the key (real HTTP probe against the stand-in)."""
    import os

    from tests.servers.apis import qdrant

    server = await asyncio.start_server(qdrant("the-right-key"), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    config = tmp / "config"
    config.mkdir(exist_ok=True)
    (config / "services.toml").write_text(
        "[services.vectors]\n"
        f'url = "http://127.0.0.1:{port}"\n'
        'kind = "qdrant"\n'
        'headers = { "api-key" = "$QDRANT_API_KEY" }\n'
        'symptom = "auth"\n'
        'description = "the search index"\n'
    )
    saved = {k: os.environ.get(k) for k in ("NETMEDIC_CONFIG_DIR", "QDRANT_API_KEY")}
    os.environ.update(NETMEDIC_CONFIG_DIR=str(config), QDRANT_API_KEY="an-old-key")
    paths = []
    try:
        app = NetmedicApp(
            None,
            None,
            config=ProbeConfig(proxy_env=()),
            plans={"auth": ("http",)},
            clock=lambda: 0.0,
            recent_path=tmp / "recent.json",
            export_dir=tmp,
            blink=False,
            privileged=True,
        )
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            path = outdir / "10-saved-services-picker.svg"
            path.write_text(app.export_screenshot(title="netmedic — saved services"))
            paths.append(path)
            listing = app.screen.query_one("#saved-list")
            listing.focus()
            await pilot.press("enter")
            await _settle(pilot, FakeNetwork())
            path = outdir / "11-saved-service-diagnosis-120x40.svg"
            path.write_text(app.export_screenshot(title="netmedic — @vectors"))
            paths.append(path)
    finally:
        server.close()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return paths


async def _resumed(outdir: Path, tmp: Path) -> Path:
    """A session whose link dropped after a step and a note, then ``--resume``."""
    sessions = tmp / "sessions"

    def journal(target: Target, symptom: str, plan: tuple[str, ...]) -> Journal:
        return Journal.create(target, symptom, plan=plan, directory=sessions)

    def app(**kwargs: object) -> NetmedicApp:
        net = FakeNetwork()
        return NetmedicApp(
            probe_overrides=net.overrides(),
            plans={"refused": ("dns", "route", "tcp")},
            clock=lambda: 0.0,
            recent_path=tmp / "recent.json",
            export_dir=tmp,
            blink=False,
            privileged=True,
            journal_factory=journal,
            **kwargs,  # type: ignore[arg-type]
        )

    first = app(target=parse_target("db.internal:5432"), symptom="refused")
    async with first.run_test(size=(120, 40)) as pilot:
        await _settle(pilot, FakeNetwork())
        await pilot.press("space", "n", *"postgres stopped after the 03:00 upgrade", "enter")
        await pilot.pause()
    second = app(resume=load_session(None, sessions))
    async with second.run_test(size=(120, 40)) as pilot:
        await _settle(pilot, FakeNetwork())
        path = outdir / "09-resumed-120x40.svg"
        path.write_text(second.export_screenshot(title="netmedic — resumed-120x40"))
    return path


def main() -> int:
    outdir = Path(sys.argv[1] if len(sys.argv) > 1 else "screenshots")
    outdir.mkdir(parents=True, exist_ok=True)
    paths = asyncio.run(shoot(outdir))
    try:  # optional: PNG copies when cairosvg is installed
        cairosvg = importlib.import_module("cairosvg")
    except ImportError:
        cairosvg = None
    for path in paths:
        if cairosvg is not None:
            cairosvg.svg2png(url=str(path), write_to=str(path.with_suffix(".png")))
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
