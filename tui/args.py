"""Argument types for numbers the command line takes: finite and within bounds.

Bad input is one line and exit status 2 (argparse reports an ArgumentTypeError that
way), whichever subcommand takes the number.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from dataclasses import dataclass


def bounded(low: float, high: float, unit: str = "", whole: bool = False) -> Callable[[str], float]:
    """An argparse ``type`` accepting a finite number in ``low..high`` (an int when *whole*)."""
    kind = "a whole number" if whole else "a number"
    where = f"{low:g}..{high:g}" + (f" {unit}" if unit else "")

    def parse(text: str) -> float:
        try:
            value = int(text) if whole else float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not {kind}: {text!r}") from None
        if not math.isfinite(value) or not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{text} is outside {where}")
        return value

    return parse


def whole(low: int, high: int) -> Callable[[str], int]:
    """An argparse ``type`` accepting a whole number in ``low..high``."""
    parse = bounded(low, high, whole=True)
    return lambda text: int(parse(text))


# Shared by `check` and `watch`.
timeout = bounded(0.1, 300, "seconds")


# The live probes' pace, shared by the TUI and `watch`.
DEFAULT_INTERVAL_S = 1.0
DEFAULT_WINDOW = 60
MIN_WINDOW = 10  # a live probe counts as answered after 10 rounds: a window holds them


@dataclass(frozen=True, slots=True)
class LivePace:
    """One round of the live probes per *interval* seconds; findings read the last
    *window* rounds (a loss that stops clears once the window has moved past it)."""

    interval: float = DEFAULT_INTERVAL_S
    window: int = DEFAULT_WINDOW


def add_live_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--interval",
        type=bounded(0.1, 3600, "seconds"),
        default=DEFAULT_INTERVAL_S,
        metavar="S",
        help=f"seconds per round of the live probes ({DEFAULT_INTERVAL_S:g})",
    )
    parser.add_argument(
        "--window",
        type=whole(MIN_WINDOW, 3600),
        default=DEFAULT_WINDOW,
        metavar="ROUNDS",
        help=f"rounds the live findings read: loss that stops clears after this many ({DEFAULT_WINDOW})",
    )


DEFAULT_PACE = LivePace()
