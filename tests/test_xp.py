"""compute_xp (contract §9.1 and §13 "XP and recording"): every boundary of the multiplier tables."""

from __future__ import annotations

import math
from typing import Any

import pytest

from timeback_caliper.xp import compute_xp, xp_multiplier


def test_worked_example_from_the_contract() -> None:
    assert compute_xp(13, total_questions=20, correct_questions=17) == 13.0  # 85 %, first attempt


@pytest.mark.parametrize(
    ("correct", "total", "expected"),
    [
        (799, 1000, 0.0),  # 79.9 %: mastery not shown
        (8, 10, 10.0),  # exactly 80 %
        (4, 5, 10.0),
        (999, 1000, 10.0),  # 99.9 % is not perfect
        (10, 10, 12.5),  # 100 %: perfect bonus 1.25
        (8.5, 10, 10.0),  # fractional counts (partial credit)
        (0, 10, 0.0),
    ],
)
def test_first_attempt_accuracy_table(correct: float, total: float, expected: float) -> None:
    assert compute_xp(10, total_questions=total, correct_questions=correct) == expected


@pytest.mark.parametrize(
    ("accuracy", "expected"),
    [(0.799, 0.0), (0.7999999, 0.0), (0.8, 10.0), (0.999, 10.0), (0.99999, 10.0), (0.999999, 12.5), (1.0, 12.5)],
)
def test_first_attempt_accuracy_as_a_fraction(accuracy: float, expected: float) -> None:
    assert compute_xp(10, accuracy=accuracy) == expected


@pytest.mark.parametrize(
    ("attempt", "accuracy", "expected"),
    [
        (1, 1.0, 12.5),
        (2, 1.0, 5.0),  # no perfect bonus on a re-attempt
        (2, 0.8, 5.0),
        (2, 0.79, 0.0),
        (3, 1.0, 2.5),
        (3, 0.9, 2.5),
        (3, 0.5, 0.0),
        (4, 1.0, 0.0),
        (5, 1.0, 0.0),
        (100, 1.0, 0.0),
    ],
)
def test_attempt_table(attempt: int, accuracy: float, expected: float) -> None:
    assert compute_xp(10, accuracy=accuracy, attempt=attempt) == expected


@pytest.mark.parametrize(("accuracy", "attempt", "multiplier"), [(1.0, 1, 1.25), (0.85, 1, 1.0), (0.85, 2, 0.5)])
def test_xp_multiplier(accuracy: float, attempt: int, multiplier: float) -> None:
    assert xp_multiplier(accuracy, attempt) == multiplier


def test_zero_questions_earn_nothing() -> None:
    assert compute_xp(30, total_questions=0, correct_questions=0) == 0.0


@pytest.mark.parametrize("minutes", [0, 0.0, -1, -0.5, -math.inf])
def test_zero_or_negative_time_earns_nothing(minutes: float) -> None:
    assert compute_xp(minutes, accuracy=1.0) == 0.0
    assert compute_xp(minutes, total_questions=10, correct_questions=10) == 0.0


@pytest.mark.parametrize("accuracy", [-0.1, -1.0, math.nan, -math.inf])
def test_negative_or_nan_accuracy_earns_nothing(accuracy: float) -> None:
    assert compute_xp(10, accuracy=accuracy) == 0.0


@pytest.mark.parametrize(
    ("minutes", "accuracy", "expected"),
    [
        (0.25, 0.9, 0.3),  # 2.5 tenths round half up
        (1.25, 0.9, 1.3),
        (2, 1.0, 2.5),
        (0.04, 0.9, 0.0),
        (0.05, 0.9, 0.1),
        (12.5, 0.9, 12.5),
        (7.5, 0.85, 7.5),
        (13 / 3, 1.0, 5.4),  # 5.41666...
    ],
)
def test_rounded_half_up_to_one_decimal(minutes: float, accuracy: float, expected: float) -> None:
    assert compute_xp(minutes, accuracy=accuracy) == expected


def test_seconds_to_minutes_example() -> None:
    assert compute_xp(780 / 60, total_questions=20, correct_questions=17) == 13.0  # the composed fixture's numbers


@pytest.mark.parametrize(
    "kwargs",
    [
        {"active_minutes": True, "accuracy": 1.0},
        {"active_minutes": 10, "accuracy": True},
        {"active_minutes": 10, "total_questions": True, "correct_questions": 1},
        {"active_minutes": 10, "total_questions": 10, "correct_questions": False},
        {"active_minutes": 10, "accuracy": 1.0, "attempt": True},
        {"active_minutes": "10", "accuracy": 1.0},
        {"active_minutes": 10, "accuracy": "0.9"},
        {"active_minutes": 10, "accuracy": 1.0, "attempt": 1.0},
        {"active_minutes": None, "accuracy": 1.0},
    ],
)
def test_bools_and_non_numbers_are_type_errors(kwargs: dict[str, Any]) -> None:
    minutes = kwargs.pop("active_minutes")
    with pytest.raises(TypeError):
        compute_xp(minutes, **kwargs)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"accuracy": 85}, "percentage"),  # a percentage passed by mistake
        ({"accuracy": 1.0000001}, "fraction"),
        ({"accuracy": math.inf}, "fraction"),
        ({"total_questions": 10}, "together"),
        ({"correct_questions": 8}, "together"),
        ({}, "give accuracy"),
        ({"accuracy": 0.9, "total_questions": 10, "correct_questions": 8}, "disagrees"),
        ({"total_questions": 10, "correct_questions": 11}, "exceeds"),
        ({"total_questions": -10, "correct_questions": -5}, "negative"),
        ({"total_questions": 10, "correct_questions": -1}, "negative"),
        ({"accuracy": 1.0, "attempt": 0}, "attempt"),
        ({"accuracy": 1.0, "attempt": -1}, "attempt"),
    ],
)
def test_value_errors(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        compute_xp(10, **kwargs)


@pytest.mark.parametrize("minutes", [math.nan, math.inf])
def test_non_finite_time_is_a_value_error(minutes: float) -> None:
    with pytest.raises(ValueError, match="finite"):
        compute_xp(minutes, accuracy=1.0)


def test_accuracy_and_counts_that_agree_are_accepted() -> None:
    assert compute_xp(10, accuracy=0.8, total_questions=10, correct_questions=8) == 10.0


def test_result_is_a_float() -> None:
    assert type(compute_xp(10, accuracy=0.9)) is float
