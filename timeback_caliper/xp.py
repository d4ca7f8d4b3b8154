"""Timeback XP (contract §9.1): 1 XP = 1 minute of active, focused learning, times the mastery multipliers.

The Caliper API never computes XP: the sender puts the number in an ``xpEarned`` metric. This helper applies the
published tables the way the contract fixes them, so every app built on this client awards the same XP. Stdlib only.
"""

from __future__ import annotations

import math

__all__ = ["MASTERY_THRESHOLD", "PERFECT_THRESHOLD", "compute_xp", "xp_multiplier"]

MASTERY_THRESHOLD = 0.8
"""Accuracy below this earns no XP (mastery not shown)."""
PERFECT_THRESHOLD = 0.999999
"""Accuracy at or above this counts as 100 % (floating-point slack for counts such as 3/3)."""

_REATTEMPT = {2: 0.5, 3: 0.25}
"""Re-attempt multipliers; attempt 4 and later earn nothing."""


def _number(name: str, value: object) -> float:
    # bool is an int subclass: True would silently count as 1 (contract §10.8).
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    return float(value)


def xp_multiplier(accuracy: float, attempt: int = 1) -> float:
    """The multiplier for ``accuracy`` (a fraction, 0-1) on ``attempt``.

    First attempt: 1.25 at 100 %, 1.0 from 80 %, else 0. Re-attempts: 0 below 80 %, else 0.5 (attempt 2),
    0.25 (attempt 3), 0 (attempt 4 and later), with no perfect bonus.
    """
    if not math.isfinite(accuracy) or accuracy < MASTERY_THRESHOLD:
        return 0.0
    if attempt == 1:
        return 1.25 if accuracy >= PERFECT_THRESHOLD else 1.0
    return _REATTEMPT.get(attempt, 0.0)


def compute_xp(
    active_minutes: float,
    *,
    total_questions: float | None = None,
    correct_questions: float | None = None,
    accuracy: float | None = None,
    attempt: int = 1,
) -> float:
    """XP for one activity run: ``active_minutes × multiplier``, rounded half-up to one decimal.

    Give either ``accuracy`` or both question counts (all three must then agree). An explicit ``xpEarned``
    chosen by the app always wins over this helper.

    Args:
        active_minutes: Minutes of active, focused time (active seconds / 60). 0 or less earns 0.
        total_questions: Questions presented; 0 earns 0 (accuracy is undefined).
        correct_questions: Questions answered correctly (may be fractional: partial credit).
        accuracy: Fraction correct in [0, 1] (not a percentage); negative or NaN earns 0.
        attempt: 1 for the first attempt, 2, 3... for re-attempts.

    Returns:
        The XP, e.g. ``compute_xp(13, total_questions=20, correct_questions=17) == 13.0``.

    Raises:
        TypeError: an argument is not a number (``bool`` included), or ``attempt`` is not an ``int``.
        ValueError: ``attempt`` < 1; ``accuracy`` > 1 (a percentage passed by mistake); only one count given;
            negative counts or ``correct_questions`` > ``total_questions``; neither accuracy nor counts given;
            accuracy and counts that disagree; ``active_minutes`` NaN or +infinity.
    """
    minutes = _number("active_minutes", active_minutes)
    if isinstance(attempt, bool) or not isinstance(attempt, int):
        raise TypeError(f"attempt must be an int, got {type(attempt).__name__}")
    if attempt < 1:
        raise ValueError(f"attempt must be 1 or more, got {attempt}")
    if math.isnan(minutes) or minutes == math.inf:
        raise ValueError(f"active_minutes must be finite, got {active_minutes!r}")
    acc = None if accuracy is None else _number("accuracy", accuracy)
    if acc is not None and acc > 1:
        raise ValueError(f"accuracy is a fraction in [0, 1], got {accuracy!r} (divide a percentage by 100)")

    if (total_questions is None) != (correct_questions is None):
        raise ValueError("give total_questions and correct_questions together, or neither")
    if total_questions is not None:
        total = _number("total_questions", total_questions)
        correct = _number("correct_questions", correct_questions)
        if total < 0 or correct < 0:
            raise ValueError(f"question counts cannot be negative, got {correct!r}/{total!r}")
        if correct > total:
            raise ValueError(f"correct_questions ({correct_questions!r}) exceeds total_questions ({total_questions!r})")
        if total == 0:
            return 0.0  # nothing asked: no accuracy, no XP
        from_counts = correct / total
        if acc is not None and not math.isclose(acc, from_counts, rel_tol=0, abs_tol=1e-9):
            raise ValueError(f"accuracy {accuracy!r} disagrees with {correct_questions!r}/{total_questions!r}")
        acc = from_counts
    elif acc is None:
        raise ValueError("give accuracy, or total_questions and correct_questions")

    if minutes <= 0 or math.isnan(acc) or acc < 0:
        return 0.0
    return math.floor(minutes * xp_multiplier(acc, attempt) * 10 + 0.5) / 10
