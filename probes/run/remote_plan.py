"""The probes that ask other hosts over SSH: only when the person named them.

``--server DEST`` adds the server side (``server``), ``--from`` the other vantage points
(``vantages``); nothing else ever starts an ssh.
"""

from __future__ import annotations

from probes.core.context import ProbeConfig
from probes.core.events import PlanStep


def remote_steps(config: ProbeConfig) -> list[PlanStep]:
    steps = []
    if config.server:
        steps.append(PlanStep("server", f"--server {config.server}: read the server's side"))
    if config.vantages:
        names = ", ".join(name for name, _dest in config.vantages[:3])
        more = f" and {len(config.vantages) - 3} more" if len(config.vantages) > 3 else ""
        steps.append(PlanStep("vantages", f"--from {names}{more}: the same check from there"))
    return steps


def with_remote(plan: tuple[str, ...], config: ProbeConfig) -> tuple[str, ...]:
    """*plan* and the remote probes *config* asks for (the names a face shows panels for)."""
    return (*plan, *(s.probe for s in remote_steps(config) if s.probe not in plan))
