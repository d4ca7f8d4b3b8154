"""Builders for test data: small valid events and entities."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from timeback_caliper import (
    ActivityMetric,
    TimebackActivityContext,
    TimebackApp,
    TimebackUser,
    create_activity_event,
)

SENSOR = "https://app.example.com/sensors/main"
BASE = "https://caliper.test"
TOKEN = "https://auth.test/oauth2/token"
WHEN = datetime(2025, 11, 18, 10, 15, 0, 123000, tzinfo=timezone.utc)


def activity_event(n: int = 0, **overrides: Any) -> Any:
    """A valid Timeback ActivityEvent (distinct per call: fresh urn:uuid id)."""
    parts: dict[str, Any] = {
        "actor": TimebackUser(id=f"https://example.edu/users/{n}", email=f"student{n}@example.edu"),
        "object": TimebackActivityContext(
            id="https://app.example.com/activities/456", subject="Math", app=TimebackApp(name="My App")
        ),
        "metrics": [
            ActivityMetric(type="totalQuestions", value=10),
            ActivityMetric(type="correctQuestions", value=8),
            ActivityMetric(type="xpEarned", value=150),
        ],
        "event_time": WHEN,
    }
    parts.update(overrides)
    return create_activity_event(**parts)
