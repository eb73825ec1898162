"""Which samples a live sparkline shows: a page that fills left to right.

A sparkline that shifts left every round rewrites every cell of it every round; a
page that fills from the left changes one cell per round and starts over (a fresh
page with the latest sample) when full.  The page is at most the rolling window.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")
PAGE_MAX = 60  # the live window: older samples are not kept


def page(samples: Sequence[T], count: int, width: int) -> Sequence[T]:
    """The current page of *samples* (the latest, *count* ever taken) for *width* cells."""
    size = max(1, min(width, PAGE_MAX, len(samples)))
    if len(samples) < min(width, PAGE_MAX):  # the first page is still filling
        return samples
    on_page = count % size or size
    return samples[-on_page:]
