"""Argument types for numbers the command line takes: finite and within bounds.

Bad input is one line and exit status 2 (argparse reports an ArgumentTypeError that
way), whichever subcommand takes the number.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable


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
