"""``make demo``: build a Timeback ActivityEvent and a generic Caliper event, validate them, print the envelope."""

from __future__ import annotations

import json
import sys
from datetime import datetime, timezone

from . import caliper
from .models.caliper.envelope import Envelope
from .serialization import parse, to_dict, validate
from .timeback import ActivityMetric, TimebackActivityContext, TimebackApp, TimebackUser, create_activity_event
from .xp import compute_xp

SENSOR = "https://demo.example.com/sensors/tutor"


def main() -> int:
    """Build, validate, serialize and read back one envelope; print what a user would look at."""
    now = datetime.now(timezone.utc)
    xp = compute_xp(12.5, total_questions=10, correct_questions=9)
    activity = create_activity_event(
        actor=TimebackUser(
            id="https://api.alpha-1edtech.ai/ims/oneroster/rostering/v1p2/users/student-123",
            email="student@example.com",
            name="Ada",
        ),
        object=TimebackActivityContext(
            id="https://demo.example.com/activities/fractions-quiz", subject="Math", app=TimebackApp(name="Demo Tutor")
        ),
        metrics=[
            ActivityMetric(type="totalQuestions", value=10),
            ActivityMetric(type="correctQuestions", value=9),
            ActivityMetric(type="xpEarned", value=xp),
        ],
        event_time=now,
    )
    viewed = caliper.ViewEvent(
        profile="ReadingProfile",
        actor=caliper.Person(id="https://example.edu/users/554433"),
        action="Viewed",
        object=caliper.Document(id="https://example.edu/etexts/201.epub", name="IMS Caliper Implementation Guide"),
        event_time=now,
    )
    envelope = Envelope(sensor=SENSOR, data=[activity, viewed])
    problems = validate(envelope)
    wire = to_dict(envelope)
    round_trip = to_dict(parse(wire)) == wire
    print(f"XP for 12.5 active minutes at 90% on the first attempt: {xp}")
    print(f"validation problems: {len(problems)}; strict parse round trip identical: {round_trip}")
    print(json.dumps(wire, indent=2, ensure_ascii=False))
    return 0 if not problems and round_trip else 1


if __name__ == "__main__":
    sys.exit(main())
