"""Micro-benchmarks of the client's hot paths: build, parse, to_dict, dumps and send (against the bundled emulator).

Run it with ``make bench`` or by hand::

    .venv/bin/python tests/bench_micro.py            # about 20 s
    .venv/bin/python tests/bench_micro.py --quick    # a few seconds, rougher figures

It prints one table: the best time per operation of several repeats (the least disturbed by the rest of the
machine), in microseconds. The ``send`` rows go through real HTTP to the emulator, in this process: they include the
emulator's own work (the server-side validation of every event), so they show the client's trend, not its limit.

For the side-by-side comparison with the PyPI peer and with bare ``http.client`` (the transport limit), run the
shared harness (see its README)::

    PEER_PY="$(../shared/bench/setup-peer.sh | tail -n1)"
    python3 ../shared/bench/run.py --peer-python "$PEER_PY" --ours-python .venv/bin/python --out /tmp/bench.json
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from timeback_caliper import (
    ActivityMetric,
    Envelope,
    TimebackActivityContext,
    TimebackApp,
    TimebackUser,
    create_activity_event,
    dumps,
    parse,
    to_dict,
    validate,
)

SENSOR = "https://app.example.com/sensors/main"
WHEN = datetime(2025, 11, 18, 10, 15, 0, 123000, tzinfo=timezone.utc)


def _parts() -> dict[str, Any]:
    return {
        "actor": TimebackUser(id="https://example.edu/users/123", email="student@example.edu"),
        "object": TimebackActivityContext(
            id="https://app.example.com/activities/456", subject="Math", app=TimebackApp(name="My App")
        ),
        "metrics": [
            ActivityMetric(type="totalQuestions", value=10),
            ActivityMetric(type="correctQuestions", value=8),
            ActivityMetric(type="xpEarned", value=150),
        ],
    }


def _best(fn: Callable[[], Any], number: int, repeat: int) -> float:
    """Best time of ``repeat`` runs of ``number`` calls, in microseconds per call."""
    for _ in range(max(1, number // 10)):
        fn()
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - start) / number)
    return best * 1e6


def _rows(number: int, repeat: int) -> list[tuple[str, str, float]]:
    parts = _parts()
    event = create_activity_event(**parts, event_time=WHEN)
    envelope = Envelope(sensor=SENSOR, data=[event], send_time=WHEN)
    body = dumps(envelope)
    parsed = parse(body)
    batch_body = dumps(Envelope(sensor=SENSOR, data=[create_activity_event(**parts) for _ in range(100)]))
    rows = [
        ("build", "input models (user, context + app, 3 metrics)", _best(_parts, number, repeat)),
        ("build", "create_activity_event(models)", _best(lambda: create_activity_event(**parts), number, repeat)),
        (
            "build",
            "event from dicts (create_activity_event)",
            _best(
                lambda: create_activity_event(
                    actor={"id": "https://example.edu/users/123", "email": "student@example.edu"},
                    object={"id": "https://app.example.com/activities/456", "subject": "Math", "app": {"name": "A"}},
                    metrics=[{"type": "xpEarned", "value": 150}],
                ),
                number,
                repeat,
            ),
        ),
        (
            "build",
            "models + event + envelope + dumps (the harness's op)",
            _best(lambda: dumps(Envelope(sensor=SENSOR, data=[create_activity_event(**_parts())])), number, repeat),
        ),
        ("parse", "parse(one-event envelope bytes), strict", _best(lambda: parse(body), number, repeat)),
        ("parse", "parse(100-event envelope bytes), per event", _best(lambda: parse(batch_body), 20, repeat) / 100),
        ("parse", "validate(parsed envelope), deep", _best(lambda: validate(parsed), number, repeat)),
        ("to_dict", "to_dict(one-event envelope)", _best(lambda: to_dict(envelope), number, repeat)),
        ("dumps", "dumps(built one-event envelope)", _best(lambda: dumps(envelope), number, repeat)),
        ("dumps", "dumps(parsed one-event envelope)", _best(lambda: dumps(parsed), number, repeat)),
    ]
    rows += _send_rows(parts, max(200, number // 20), repeat)
    return rows


def _send_rows(parts: dict[str, Any], number: int, repeat: int) -> list[tuple[str, str, float]]:
    try:
        from timeback_caliper.testing import Emulator
    except ImportError:  # the testing kit is optional here
        return []
    with Emulator(job_delay=0.0) as emu, emu.client() as client:
        send, send_activity = client.events.send, client.events.send_activity
        one = _best(lambda: send(SENSOR, [create_activity_event(**parts)]), number, repeat)
        activity = _best(lambda: send_activity(SENSOR, **_parts()), number, repeat)
        batch = _best(lambda: send(SENSOR, [create_activity_event(**parts) for _ in range(100)]), 10, repeat) / 100
        emu.wait_for_jobs(timeout=60)
    return [
        ("send", "events.send(1 event), emulator", one),
        ("send", "send_activity(models built per call), emulator", activity),
        ("send", "events.send(100 events), per event, emulator", batch),
    ]


def _say(text: str = "") -> None:
    sys.stdout.write(text + "\n")


def main(argv: list[str] | None = None) -> int:
    """Print the table; returns 0."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer iterations (rougher figures)")
    args = ap.parse_args(argv)
    number, repeat = (500, 3) if args.quick else (5000, 7)
    rows = _rows(number, repeat)
    _say(f"timeback_caliper micro-benchmarks (Python {sys.version.split()[0]}; best of {repeat}, us per op)")
    _say(f"{'area':8} {'operation':54} {'us/op':>9}")
    _say("-" * 73)
    for area, name, us in rows:
        _say(f"{area:8} {name:54} {us:9.1f}")
    _say()
    _say("Side by side with the PyPI peer and bare http.client: see ../shared/bench/README.md, e.g.")
    _say('  PEER_PY="$(../shared/bench/setup-peer.sh | tail -n1)"')
    _say('  python3 ../shared/bench/run.py --peer-python "$PEER_PY" --ours-python .venv/bin/python')
    return 0


if __name__ == "__main__":
    sys.exit(main())
