"""Make SVG (and PNG, when cairosvg is installed) screenshots of the real app.

    python -m tests.screenshots [OUTDIR]     (default: screenshots/)
    python -m tests.screenshots --live-lab [OUTDIR]   (root: live ping + trace over
                                             the namespace lab chain with loss)

Every diagnosis shown is real: the app runs headless with the real probes
against the ``netmedic demo`` servers on loopback (:class:`tui.demo.servers.DemoLab`),
so a picture can only show what the product really does.  The app's clock is
fixed (no elapsed times on screen); ports are the kernel's and probe timings are
measured, so those few figures differ from one run to the next.
"""

from __future__ import annotations

import asyncio
import importlib
import sys
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from textual.pilot import Pilot

from probes.core.context import ProbeConfig
from probes.core.target import Target
from probes.record.journal import Journal
from probes.record.session import load_session
from probes.triage.pasted import PastedError
from tui.app import NetmedicApp
from tui.args import LivePace
from tui.demo.addresses import SECOND_LOOPBACK
from tui.demo.cases import DEMO_NAME
from tui.demo.servers import DemoLab

Step = Callable[[Pilot[int]], Awaitable[None]]


async def _settle(pilot: Pilot[int]) -> None:
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def _type_cert(pilot: Pilot[int]) -> None:
    await pilot.press(*"cert")


async def _bad_target(pilot: Pilot[int]) -> None:
    await pilot.press("enter", *"db.internal:99999")


def _diagnose(case_id: str, *then: str) -> Step:
    """Pick *case_id* in the demo picker, wait for its diagnosis, press *then*."""

    async def step(pilot: Pilot[int]) -> None:
        app = pilot.app
        assert isinstance(app, NetmedicApp)
        index = [c.id for c in app.demo_cases].index(case_id)
        await pilot.press(*["down"] * index, "enter")
        await _settle(pilot)
        if then:
            await pilot.press(*then)
            await pilot.pause()

    return step


@dataclass(frozen=True)
class Shot:
    name: str
    size: tuple[int, int]
    step: Step
    demo: bool = True  # start at the demo picker (else the symptom picker)


SHOTS = (
    Shot("01-symptom-picker", (80, 24), _settle, demo=False),
    Shot("02-symptom-filter", (80, 24), _type_cert, demo=False),
    Shot("03-target-error", (80, 24), _bad_target, demo=False),
    Shot("04-demo-picker", (80, 24), _settle),
    Shot("05-tls-wrong-name-120x40", (120, 40), _diagnose("tls-wrong-name")),
    Shot("06-http-503-80x24", (80, 24), _diagnose("http-503")),
    Shot("07-cors-no-origin-120x40", (120, 40), _diagnose("cors-no-origin")),
    Shot("08-copy-command", (80, 24), _diagnose("tls-wrong-name", "down", "c")),
    Shot("15-help-80x24", (80, 24), _diagnose("http-503", "question_mark")),
    Shot("16-demo-owner-120x40", (120, 40), _diagnose("bound-elsewhere")),
)


def _app(lab: DemoLab, tmp: Path, demo: bool, **kwargs: object) -> NetmedicApp:
    return NetmedicApp(
        config=ProbeConfig(ca_file=lab.ca_file, self_name=DEMO_NAME),
        demo=lab.cases if demo else None,
        clock=lambda: 0.0,
        recent_path=tmp / "recent.json",
        export_dir=tmp,
        blink=False,
        privileged=True,
        **kwargs,  # type: ignore[arg-type]
    )


async def shoot(outdir: Path) -> list[Path]:
    written = []
    # 127.0.0.2 as the "other" local address: no address of this machine in a picture.
    with tempfile.TemporaryDirectory() as tmp, DemoLab(other_address=SECOND_LOOPBACK) as lab:
        for shot in SHOTS:
            app = _app(lab, Path(tmp), shot.demo)
            async with app.run_test(size=shot.size) as pilot:
                await shot.step(pilot)
                await pilot.pause()
                path = outdir / f"{shot.name}.svg"
                path.write_text(app.export_screenshot(title=f"netmedic — {shot.name[3:]}"))
                written.append(path)
        written.append(await _resumed(outdir, Path(tmp), lab))
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
            await pilot.pause()
            await app.workers.wait_for_complete()
            await pilot.pause()
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


async def _resumed(outdir: Path, tmp: Path, lab: DemoLab) -> Path:
    """A real session (the demo's 503) with a step marked and a note, then ``--resume``."""
    sessions = tmp / "sessions"

    def journal(
        target: Target, symptom: str, plan: tuple[str, ...], error: PastedError | None = None
    ) -> Journal:
        return Journal.create(target, symptom, plan=plan, error=error, directory=sessions)

    first = _app(lab, tmp, True, journal_factory=journal)
    async with first.run_test(size=(120, 40)) as pilot:
        await _diagnose("http-503")(pilot)
        await pilot.press("space", "n", *"503 since the deploy at 03:00; Retry-After 30", "enter")
        await pilot.pause()
    second = _app(lab, tmp, False, journal_factory=journal, resume=load_session(None, sessions))
    async with second.run_test(size=(120, 40)) as pilot:
        await _settle(pilot)
        path = outdir / "09-resumed-120x40.svg"
        path.write_text(second.export_screenshot(title="netmedic — resumed-120x40"))
    return path


LIVE_PORT = 5432
LIVE_LOSS_PCT = 15


def live_lab(outdir: Path) -> list[Path]:
    """Live ping and trace mid-run over a real path with loss: the 5-hop namespace
    lab chain (tests/lab/chain.py), r2 dropping LIVE_LOSS_PCT% of what it forwards at
    random.  Needs root; the app runs in the chain's client namespace."""

    from tests.lab import chain as C
    from tests.lab.netns import Lab

    with Lab("shots") as lab:
        chain = C.build(lab)
        chain.rules("r2", forward=f"numgen random mod 100 < {LIVE_LOSS_PCT} drop")
        lab.python(chain.server, "tests.lab.tcpserver", "", f"{C.SERVER_V4}:{LIVE_PORT}")
        args = ["--live-inside", str(outdir.resolve()), f"{C.SERVER_V4}:{LIVE_PORT}"]
        done = lab.run(chain.client, [sys.executable, "-m", "tests.screenshots", *args], 180)
        if done.returncode != 0:
            raise RuntimeError(f"live screenshots failed: {done.stderr[-2000:]}")
        return [Path(line) for line in done.stdout.split()]


async def _live_inside(outdir: Path, target: str) -> list[Path]:
    from probes.core.target import parse_target

    paths = []
    with tempfile.TemporaryDirectory() as tmp:
        for size, rounds in (((120, 40), 40), ((80, 24), 30)):
            app = NetmedicApp(
                parse_target(target),
                "intermittent",
                plans={"intermittent": ("tcp", "ping", "trace")},
                clock=lambda: 0.0,
                recent_path=Path(tmp) / "recent.json",
                export_dir=Path(tmp),
                blink=False,
                privileged=True,
                live_pace=LivePace(interval=0.25),  # 4 rounds a second: a full window sooner
            )
            async with app.run_test(size=size) as pilot:
                await pilot.pause(rounds * 0.25 + 2.0)  # real rounds, mid-run
                name = f"12-live-ping-trace-loss-{size[0]}x{size[1]}"
                path = outdir / f"{name}.svg"
                path.write_text(app.export_screenshot(title=f"netmedic — {name[3:]}"))
                paths.append(path)
    return paths


def main() -> int:
    if sys.argv[1:2] == ["--live-inside"]:
        for path in asyncio.run(_live_inside(Path(sys.argv[2]), sys.argv[3])):
            print(path)
        return 0
    if sys.argv[1:2] == ["--live-lab"]:
        paths = live_lab(Path(sys.argv[2] if len(sys.argv) > 2 else "screenshots"))
        print("\n".join(str(p) for p in paths))
        return 0
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
