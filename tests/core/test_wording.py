"""One wording rule for counts and durations (ctct._wording)."""

from __future__ import annotations

import pytest

from ctct._wording import duration, plural


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (0, "0 s"),
        (0.04, "0 s"),
        (0.1, "0.1 s"),
        (1, "1 s"),
        (59.9, "59 s"),  # rounded down: a countdown never promises more
        (60, "1 min"),
        (125, "2 min 5 s"),
        (3_600, "1 h"),
        (3_661, "1 h 1 min"),
        (86_399.7, "23 h 59 min"),
        (90_061, "1 d 1 h"),
        (-61, "1 min 1 s"),
        (30 * 86_400, "30 d"),
        (float("inf"), "forever"),
    ],
)
def test_durations_are_the_two_largest_units(seconds: float, shown: str) -> None:
    assert duration(seconds) == shown


def test_counts_carry_their_noun_and_thousands_separators() -> None:
    assert plural(1, "contact") == "1 contact"
    assert plural(0, "contact") == "0 contacts"
    assert plural(12_500, "contact") == "12,500 contacts"
    assert plural(2, "activity", "activities") == "2 activities"
