"""Valid Timeback events for outbox tests and the outbox benchmark (each with a fresh urn:uuid id)."""

from __future__ import annotations

import copy
import uuid
from typing import Any

SENSOR = "https://app.example.com/sensors/outbox"

# A server-valid Timeback ActivityEvent (contract §8), from the "xp earned" example; each copy gets a fresh id.
ACTIVITY_EVENT: dict[str, Any] = {
    "@context": "http://purl.imsglobal.org/ctx/caliper/v1p2",
    "id": "urn:uuid:c51570e4-f8ed-4c18-bb3a-dfe51b2cc594",
    "type": "ActivityEvent",
    "profile": "TimebackProfile",
    "actor": {
        "id": "https://api.alpha-1edtech.com/ims/oneroster/rostering/v1p2/users/student-123",
        "type": "TimebackUser",
        "email": "student.email@example.com",
    },
    "action": "Completed",
    "object": {
        "id": "https://app.example.com/activities/quiz-1",
        "type": "TimebackActivityContext",
        "subject": "Reading",
        "app": {"name": "Outbox Test App"},
        "activity": {"name": "Answered quiz"},
    },
    "eventTime": "2025-11-18T10:15:00.000Z",
    "generated": {
        "id": "https://app.example.com/metrics/1",
        "type": "TimebackActivityMetricsCollection",
        "items": [{"type": "xpEarned", "value": 10}],
    },
}


def make_event(n: int = 0, **changes: Any) -> dict[str, Any]:
    """A fresh valid event wire dict (new urn:uuid id)."""
    event = copy.deepcopy(ACTIVITY_EVENT)
    event["id"] = f"urn:uuid:{uuid.uuid4()}"
    event["generated"]["id"] = f"https://app.example.com/metrics/{n}"
    event.update(changes)
    return event


def make_events(count: int) -> list[dict[str, Any]]:
    return [make_event(i) for i in range(count)]
