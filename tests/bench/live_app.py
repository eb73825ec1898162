"""The diagnosis screen with live ping and an 8-hop trace updating once a second
(fake engine), for the bytes-to-terminal benchmark and for trying by hand:

    python -m tests.bench.live_app
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from probes.core.context import ProbeConfig
from probes.core.target import parse_target
from tests.fake_engine import FakeNetwork
from tui.app import NetmedicApp


def main() -> int:
    net = FakeNetwork(live_rounds=3600, live_interval_s=1.0)
    with tempfile.TemporaryDirectory() as tmp:
        app = NetmedicApp(
            parse_target("db.internal:5432"),
            "refused",
            config=ProbeConfig(timeout=3600),
            probe_overrides=net.overrides(),
            plans={"refused": ("dns", "route", "tcp", "ping", "trace")},
            recent_path=Path(tmp) / "recent.json",
            export_dir=Path(tmp),
        )
        app.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
