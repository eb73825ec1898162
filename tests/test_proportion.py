"""The arithmetic behind samples sized to the question (probes/core/proportion.py)."""

from __future__ import annotations

import pytest

from probes.core.proportion import ABOVE, BELOW, UNSURE, repeats_to_see, versus, wilson
from probes.diagnosis.path_rules import LOSS_PCT
from probes.path.ping import SIZED_LOSS_PCT


def test_wilson_is_sound_at_the_edges() -> None:
    none = wilson(0, 52)
    assert none.low == 0.0 and 0.045 < none.high < 0.05  # 52 clean pings: under 5%
    assert wilson(0, 0).high == 1.0
    assert wilson(9, 9).high == 1.0 and wilson(9, 9).low > 0.7


@pytest.mark.parametrize(
    ("lost", "sent", "answer"),
    [
        (0, 9, UNSURE),  # nine clean pings cannot rule out 30% loss (0.7^9 = 4%)
        (1, 9, UNSURE),  # the "8/9 answered" run
        (0, 51, UNSURE),
        (0, 52, BELOW),
        (3, 9, ABOVE),
        (1, 74, UNSURE),  # some loss, too little to place against the bar
        (7, 74, ABOVE),
    ],
)
def test_versus_the_bar(lost: int, sent: int, answer: str) -> None:
    assert versus(lost, sent, 5.0) == answer


def test_repeats_that_see_one_dead_member() -> None:
    assert repeats_to_see(3, 0.001) == 18  # (2/3)^18 = 0.07%
    assert (2 / 3) ** repeats_to_see(3, 0.001) <= 0.001 < (2 / 3) ** 17
    assert repeats_to_see(1, 0.001) == 1


def test_the_sample_asks_the_question_path_loss_answers() -> None:
    assert SIZED_LOSS_PCT == LOSS_PCT
