"""The demo's broken services: what each one is and the verdict it must get."""

from __future__ import annotations

from dataclasses import dataclass

# The demo's servers run in netmedic's own process: the owner the probes name for them.
DEMO_NAME = "netmedic (the demo)"


@dataclass(frozen=True, slots=True)
class DemoCase:
    """One broken service, running on loopback once the lab has started."""

    id: str  # stable, short: "tls-expired"
    title: str  # one line a newcomer understands
    target: str  # what ``netmedic check`` is given
    symptom: str  # the symptom a person would pick
    expected: str  # the honest verdict (a DESIGN.md finding id)
    origin: str = ""  # the page's Origin, for the CORS case
    timeout: float = 5.0  # check's per-probe deadline

    def check_args(self, ca_file: str) -> list[str]:
        """The ``netmedic check`` arguments that diagnose this case by hand."""
        args = [self.target, "--symptom", self.symptom, "--timeout", f"{self.timeout:g}"]
        args += ["--ca-file", ca_file]
        if self.origin:
            args += ["--origin", self.origin]
        return args
